"""LVIS v1 image-level partial labels from ``lvis_v1_{train,val}.json`` (the ``lvis`` package).

Per image: positives = categories with >= 1 annotation; annotated negatives =
``neg_category_ids`` (verified absent); every other category un-annotated. A category listed both
ways keeps the positive (counted in ``meta["conflicting_pairs"]``). ``not_exhaustive_category_ids``
(present, but not every instance annotated) are recorded as a sparse boolean matrix per split in
``meta["not_exhaustive"]``; ``not_exhaustive_as_unannotated=true`` turns those entries into
un-annotated ones (for analyses of negatives of missing instances).

Rows: images with >= 1 annotation (``keep=annotated``, the third-party DongSky loader's choice,
docs/methods.md §3.4) or with >= 1 positive or negative (``keep=labelled``), sorted by image id.
Columns: the 1,203 categories in ascending id. Test = LVIS val. Image files come from each image's
``coco_url`` (``.../train2017/x.jpg`` -> ``{images}/train2017/x.jpg``): LVIS val draws on both
COCO train2017 and val2017. Class groups ``rare``/``common``/``frequent`` from the categories'
``frequency`` (r/c/f); ``meta["person_index"]`` is the column of ``person`` (CSL Table 4).
"""
from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import numpy as np
import scipy.sparse as sp
from lvis import LVIS

from bench import DatasetData, ImageDataset, Param, Split, register_dataset
from bench.io.errors import DataError, json_errors, require_dir, require_file
from bench.io.integrity import VERIFY_LEVELS, KnownRelease, verify_release
from bench.io.sparse_labels import csr_from_triplets

# Images listed in the v1 JSONs (detectron2's LVIS loader logs; not checked against a file here).
RELEASE = KnownRelease("LVIS v1", 1203, "ec0290d86a7d76b7f7057c9af07ea20fb7888b3e1a81f5c3200aa07106281b8d",
                       {"train": 100170, "test": 19809})
GROUPS = {"r": "rare", "c": "common", "f": "frequent"}


def _image_path(image: dict, images_root: Path, json_path: Path) -> str:
    url = image.get("coco_url")
    if not url:
        raise DataError(f"image {image['id']} has no coco_url", json_path, field="coco_url")
    parts = PurePosixPath(urlparse(url).path).parts
    return str(images_root.joinpath(*parts[-2:]))


def load_lvis_split(json_path: Path, images_root: Path, keep: str, not_exhaustive_as_unannotated: bool):
    """(Split, categories sorted by id, not-exhaustive CSR bool, stats) of one LVIS JSON."""
    logging.getLogger("lvis").setLevel(logging.WARNING)
    with json_errors(json_path):
        lvis = LVIS(str(json_path))
        cats = [lvis.cats[c] for c in sorted(lvis.cats)]
        column = {c["id"]: j for j, c in enumerate(cats)}
        rows, cols, flags, ne_rows, ne_cols, kept = [], [], [], [], [], []
        for image_id in sorted(lvis.imgs):
            image = lvis.imgs[image_id]
            positives = {a["category_id"] for a in lvis.img_ann_map.get(image_id, ())}
            negatives = set(image["neg_category_ids"])
            if not (positives if keep == "annotated" else positives | negatives):
                continue
            r = len(kept)
            kept.append(image)
            for cat_ids, flag in ((positives, True), (negatives, False)):
                for cat_id in cat_ids:
                    if cat_id not in column:
                        raise DataError(f"category {cat_id} of image {image_id} is not in 'categories'",
                                        json_path, field="category_id" if flag else "neg_category_ids")
                    rows.append(r), cols.append(column[cat_id]), flags.append(flag)
            for cat_id in image["not_exhaustive_category_ids"]:
                ne_rows.append(r), ne_cols.append(column[cat_id])
    shape = (len(kept), len(cats))
    not_exhaustive = sp.csr_array((np.ones(len(ne_rows), bool), (ne_rows, ne_cols)), shape=shape)
    rows, cols, flags = np.array(rows, np.int64), np.array(cols, np.int64), np.array(flags, bool)
    if not_exhaustive_as_unannotated and rows.size:
        drop = np.isin(rows * shape[1] + cols, np.array(ne_rows, np.int64) * shape[1] + np.array(ne_cols, np.int64))
        rows, cols, flags = rows[~drop], cols[~drop], flags[~drop]
    labels, stats = csr_from_triplets(rows, cols, flags, shape)
    stats["images_in_json"] = len(lvis.imgs)
    split = Split(labels, images=[_image_path(i, images_root, json_path) for i in kept],
                  ids=[str(i["id"]) for i in kept])
    return split, cats, not_exhaustive, stats


@register_dataset("lvis")
class Lvis(ImageDataset):
    """LVIS v1: natively partial labels over 1,203 classes (positives, verified negatives)."""

    version = "1"
    description = "LVIS v1 image-level labels: 1,203 classes, positives + verified negatives, rare/common/frequent"
    parameters = {
        "root": Param(None, type=str, help="folder holding the COCO 2017 images (train2017/, val2017/)"),
        "annotations": Param("annotations", help="folder of the LVIS JSONs, relative to root"),
        "train_json": Param("lvis_v1_train.json", help="training JSON in the annotation folder"),
        "test_json": Param("lvis_v1_val.json", help="test JSON in the annotation folder"),
        "keep": Param("annotated", choices=("annotated", "labelled"),
                      help="rows: images with >= 1 annotation, or with >= 1 positive or negative"),
        "not_exhaustive_as_unannotated": Param(False, help="treat not-exhaustive categories as un-annotated"),
        "verify": Param("full", choices=VERIFY_LEVELS, help="check class list and image counts against LVIS v1"),
    }

    def read(self) -> DatasetData:
        root = require_dir(self.root, "the COCO 2017 image folder", "dataset 'lvis'")
        ann_dir = root / self.annotations
        splits, cats, meta = {}, {}, {"not_exhaustive": {}, "conflicting_pairs": {}, "images_in_json": {}}
        for split, name in (("train", self.train_json), ("test", self.test_json)):
            path = require_file(ann_dir / name, f"LVIS {split} annotations")
            splits[split], cats[split], not_exhaustive, stats = load_lvis_split(
                path, root, self.keep, self.not_exhaustive_as_unannotated)
            meta["not_exhaustive"][split] = not_exhaustive
            meta["conflicting_pairs"][split] = stats["conflicting_pairs"]
            meta["images_in_json"][split] = stats["images_in_json"]
        names = [c["name"] for c in cats["train"]]
        if names != [c["name"] for c in cats["test"]]:
            raise DataError("categories differ from the training JSON's", ann_dir / self.test_json, field="categories")
        meta["class_list_sha256"] = verify_release(names, meta["images_in_json"], RELEASE, str(ann_dir), self.verify)
        groups: dict[str, list[int]] = {g: [] for g in GROUPS.values()}
        for j, cat in enumerate(cats["train"]):
            if cat.get("frequency") not in GROUPS:
                raise DataError(f"category {cat['id']} has frequency {cat.get('frequency')!r}, expected r/c/f",
                                ann_dir / self.train_json, field="frequency")
            groups[GROUPS[cat["frequency"]]].append(j)
        meta["person_index"] = names.index("person") if "person" in names else None
        data = DatasetData(name="lvis", class_names=names, train=splits["train"], test=splits["test"],
                           fully_labelled=False, class_groups=groups, meta=meta)
        return data
