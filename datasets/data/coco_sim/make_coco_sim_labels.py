"""Derive coco2014_labels_csr.npz from ../shared/data/coco2014_labels/ (run from the repository root).

Packs the 0/1 matrices of ``coco2014_labels.npz`` row by row (positives per row, then their class
indices) and the image ids as differences, with the class names, COCO category ids and
supercategories of ``categories.json``. See SOURCE.md.
"""
import json
from pathlib import Path

import numpy as np

SHARED = Path("../shared/data/coco2014_labels")
OUT = Path("datasets/data/coco_sim/coco2014_labels_csr.npz")

source = np.load(SHARED / "coco2014_labels.npz")
categories = json.loads((SHARED / "categories.json").read_text())
assert [c["name"] for c in categories] == list(source["class_names"])
supercategories = list(dict.fromkeys(c["supercategory"] for c in categories))
packed = {
    "class_names": source["class_names"],
    "class_ids": source["class_ids"].astype(np.uint8),
    "supercategory_names": np.array(supercategories),
    "supercategory": np.array([supercategories.index(c["supercategory"]) for c in categories], np.uint8),
}
for split in ("train", "val"):
    labels, ids = source[f"{split}_labels"], source[f"{split}_image_ids"]
    assert (np.diff(ids) > 0).all() and set(np.unique(labels)) <= {0, 1}
    packed[f"{split}_id_gaps"] = np.diff(ids, prepend=0).astype(np.uint32)
    packed[f"{split}_counts"] = labels.sum(1).astype(np.uint8)
    packed[f"{split}_classes"] = np.nonzero(labels)[1].astype(np.uint8)
np.savez_compressed(OUT, **packed)
