"""MS-COCO 2014 (or 2017) image-level labels from the official instances JSON (pycocotools).

Rows: the images with at least one annotation, crowd annotations included (``coco.imgToAnns``
keys: 82,081 train2014 / 40,137 val2014 images), sorted by image id; columns: the 80 categories
in ascending category id (``coco.cats`` order, the ASL/CSL class index, docs/methods.md §3.4).
An image is positive for a category with >= 1 annotation of it and negative otherwise, so both
splits are fully labelled; the test split is val2014 (val2017 with ``year=2017``). Images are
``{root}/{train,val}{year}/<file_name>``.

``order=cole`` reproduces Cole et al.'s row order (image ids sorted as strings) and their 80/20
train/val split with seed 1200 as ``DatasetData.val_index`` (``bench.io.cole``).
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO

from bench import DatasetData, ImageDataset, Param, Split, register_dataset
from bench.io.cole import cole_order, cole_val_index
from bench.io.errors import DataError, json_errors, require_dir, require_file
from bench.io.integrity import VERIFY_LEVELS, KnownRelease, verify_release
from bench.labels.encoding import LABEL_DTYPE, NEG, POS

RELEASES = {
    "2014": KnownRelease("COCO 2014", 80, "d7654b26101572841ed1cd80aa03aa60e35f1b8acb4aea6906c4066886f16e07",
                         {"train": 82081, "test": 40137}),
    "2017": KnownRelease("COCO 2017", 80, "d7654b26101572841ed1cd80aa03aa60e35f1b8acb4aea6906c4066886f16e07"),
}


def load_coco_split(json_path: Path, order: str = "id") -> tuple[np.ndarray, list[int], list[str], list[str]]:
    """Labels (N, 80) int8 +-1, image ids, image file names and class names of one instances JSON."""
    with json_errors(json_path), contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(json_path))
        for key in ("images", "annotations", "categories"):
            if key not in coco.dataset:
                raise KeyError(key)
        cat_ids = sorted(coco.cats)
        names = [coco.cats[c]["name"] for c in cat_ids]
        annotated = [image_id for image_id, anns in coco.imgToAnns.items() if anns]
        image_ids = sorted(annotated) if order == "id" else cole_order(annotated)
        orphan = next((i for i in image_ids if i not in coco.imgs), None)
        if orphan is not None:
            raise DataError(f"annotation refers to image {orphan}, absent from 'images'", json_path, field="image_id")
        files = [coco.imgs[i]["file_name"] for i in image_ids]
    row = {image_id: r for r, image_id in enumerate(image_ids)}
    column = {cat_id: c for c, cat_id in enumerate(cat_ids)}
    anns = coco.dataset["annotations"]
    unknown = next((a["category_id"] for a in anns if a["category_id"] not in column), None)
    if unknown is not None:
        raise DataError(f"category {unknown} is not in 'categories'", json_path, field="category_id")
    labels = np.full((len(image_ids), len(cat_ids)), NEG, dtype=LABEL_DTYPE)
    rows = np.fromiter((row[a["image_id"]] for a in anns), dtype=np.int64, count=len(anns))
    cols = np.fromiter((column[a["category_id"]] for a in anns), dtype=np.int64, count=len(anns))
    labels[rows, cols] = POS
    return labels, image_ids, files, names


@register_dataset("coco")
class Coco(ImageDataset):
    """COCO-2014 multi-label classification, fully labelled (simulation protocols apply)."""

    version = "1"
    description = "MS-COCO 2014 image-level labels from instances_{train,val}2014.json (80 classes)"
    parameters = {
        "root": Param(None, type=str, help="COCO folder holding annotations/ and train2014/, val2014/"),
        "year": Param("2014", choices=("2014", "2017"), help="release: file and folder names, known sizes"),
        "annotations": Param("annotations", help="annotation folder, relative to root"),
        "train_json": Param(None, type=str,
                            help="training JSON in the annotation folder (default instances_train{year}.json)"),
        "test_json": Param(None, type=str,
                           help="test JSON in the annotation folder (default instances_val{year}.json)"),
        "train_images": Param(None, type=str, help="training image folder relative to root (default train{year})"),
        "test_images": Param(None, type=str, help="test image folder relative to root (default val{year})"),
        "order": Param("id", choices=("id", "cole"), help="rows by image id, or Cole et al.'s order and val split"),
        "verify": Param("full", choices=VERIFY_LEVELS, help="check class list and split sizes against the release"),
    }

    def read(self) -> DatasetData:
        root = require_dir(self.root, "the COCO folder", "dataset 'coco'")
        year = self.year
        ann_dir = root / self.annotations
        files = {"train": self.train_json or f"instances_train{year}.json",
                 "test": self.test_json or f"instances_val{year}.json"}
        folders = {"train": self.train_images or f"train{year}", "test": self.test_images or f"val{year}"}
        splits, names = {}, {}
        for split in ("train", "test"):
            path = require_file(ann_dir / files[split], f"COCO {split} annotations")
            labels, ids, file_names, names[split] = load_coco_split(path, self.order)
            image_dir = root / folders[split]
            splits[split] = Split(labels, images=[str(image_dir / f) for f in file_names], ids=[str(i) for i in ids])
        if names["train"] != names["test"]:
            raise DataError("categories differ from the training JSON's", ann_dir / files["test"], field="categories")
        digest = verify_release(names["train"], {s: len(v) for s, v in splits.items()}, RELEASES[year],
                                str(ann_dir), self.verify)
        data = DatasetData(
            name="coco", class_names=names["train"], train=splits["train"], test=splits["test"], fully_labelled=True,
            val_index=cole_val_index(len(splits["train"])) if self.order == "cole" else None,
            meta={"year": year, "order": self.order, "class_list_sha256": digest,
                  "annotations": {s: str(ann_dir / f) for s, f in files.items()}},
        )
        return data
