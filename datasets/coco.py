"""MS-COCO 2014 (or 2017) image-level labels from the official instances JSON.

Rows: the images with at least one annotation, crowd annotations included (``coco.imgToAnns``
keys: 82,081 train2014 / 40,137 val2014 images), sorted by image id; columns: the 80 categories
in ascending category id (``coco.cats`` order, the ASL/CSL class index, docs/methods.md §3.4).
An image is positive for a category with >= 1 annotation of it and negative otherwise, so both
splits are fully labelled; the test split is val2014 (val2017 with ``year=2017``). Images are
``{root}/{train,val}{year}/<file_name>``.

The JSON is read and type-checked here (the index pycocotools builds, without its asserts):
image, annotation and category ids are unique integers (``true`` is not category 1), file names
and category names unique; no image id or image file is in both splits; a ``file_name`` that
resolves outside ``root`` is refused unless ``allow_outside_root=true``.

``order=cole`` reproduces Cole et al.'s row order (image ids sorted as strings) and their 80/20
train/val split with seed 1200 as ``DatasetData.val_index`` (``bench.io.cole``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bench import DatasetData, ImageDataset, Param, Split, register_dataset
from bench.io.checks import require_disjoint, require_rows, require_unique
from bench.io.cole import cole_order, cole_val_index
from bench.io.errors import DataError, require_dir, require_file
from bench.io.integrity import VERIFY_LEVELS, KnownRelease, verify_release
from bench.io.jsonfields import annotation_pairs, entries, get_str, index_by_id, read_json, top_object
from bench.io.roots import ALLOW_OUTSIDE_ROOT, require_inside_root
from bench.labels.encoding import LABEL_DTYPE, NEG, POS

RELEASES = {
    "2014": KnownRelease("COCO 2014", 80, "d7654b26101572841ed1cd80aa03aa60e35f1b8acb4aea6906c4066886f16e07",
                         {"train": 82081, "test": 40137}),
    "2017": KnownRelease("COCO 2017", 80, "d7654b26101572841ed1cd80aa03aa60e35f1b8acb4aea6906c4066886f16e07"),
}


def load_coco_split(json_path: Path, order: str = "id") -> tuple[np.ndarray, list[int], list[str], list[str]]:
    """Labels (N, 80) int8 +-1, image ids, image file names and class names of one instances JSON.

    The JSON is type-checked as it is read (``bench.io.jsonfields``): ids are unique integers,
    ``file_name`` and category ``name`` non-empty strings, unique within the file; every annotation
    names an image of ``images`` and a category of ``categories``. Rows are the images with at
    least one annotation (pycocotools' ``imgToAnns`` keys)."""
    doc = top_object(read_json(json_path, "COCO annotations"), json_path)
    images, anns, categories = (entries(doc, key, json_path) for key in ("images", "annotations", "categories"))
    cats = index_by_id(categories, "categories", json_path)
    imgs = index_by_id(images, "images", json_path)
    index_by_id(anns, "annotations", json_path)
    cat_ids = sorted(cats)
    names = [get_str(cats[c], "name", json_path, f"category {c}") for c in cat_ids]
    require_unique(names, json_path, "name", "category name")
    files = {i: get_str(img, "file_name", json_path, f"image {i}") for i, img in imgs.items()}
    require_unique(list(files.values()), json_path, "file_name", "file_name")
    column = {cat_id: c for c, cat_id in enumerate(cat_ids)}
    pairs = []
    for image_id, category_id in annotation_pairs(anns, imgs, json_path):
        if category_id not in column:
            raise DataError(f"category {category_id} is not in 'categories'", json_path, field="category_id")
        pairs.append((image_id, column[category_id]))
    annotated = list(dict.fromkeys(image_id for image_id, _ in pairs))
    image_ids = sorted(annotated) if order == "id" else cole_order(annotated)
    row = {image_id: r for r, image_id in enumerate(image_ids)}
    labels = np.full((len(image_ids), len(cat_ids)), NEG, dtype=LABEL_DTYPE)
    rows = np.fromiter((row[image_id] for image_id, _ in pairs), dtype=np.int64, count=len(pairs))
    cols = np.fromiter((c for _, c in pairs), dtype=np.int64, count=len(pairs))
    labels[rows, cols] = POS
    return labels, image_ids, [files[i] for i in image_ids], names


@register_dataset("coco")
class Coco(ImageDataset):
    """COCO-2014 multi-label classification, fully labelled (simulation protocols apply)."""

    version = "1"
    description = "MS-COCO 2014 image-level labels from instances_{train,val}2014.json (80 classes)"
    data_folder = "coco"
    root_layout = "annotations/instances_train2014.json, annotations/instances_val2014.json, train2014/, val2014/"
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
        "allow_outside_root": ALLOW_OUTSIDE_ROOT,
    }

    def split_sizes(self) -> dict[str, int]:
        """The release's official split sizes (COCO 2014: 82,081 / 40,137)."""
        return dict(RELEASES[self.year].split_sizes)

    def read(self) -> DatasetData:
        root = require_dir(self.root, "the COCO folder", "dataset 'coco'")
        year = self.year
        ann_dir = root / self.annotations
        files = {"train": self.train_json or f"instances_train{year}.json",
                 "test": self.test_json or f"instances_val{year}.json"}
        folders = {"train": self.train_images or f"train{year}", "test": self.test_images or f"val{year}"}
        splits, names, paths = {}, {}, {}
        for split in ("train", "test"):
            path = paths[split] = require_file(ann_dir / files[split], f"COCO {split} annotations")
            labels, ids, file_names, names[split] = load_coco_split(path, self.order)
            require_rows(len(ids), path, split, "annotated images")
            image_dir = root / folders[split]
            images = [str(image_dir / f) for f in file_names]
            require_inside_root(images, root, self.allow_outside_root, path, "file_name",
                                lambda i, ids=ids, names=file_names: f"image {ids[i]} (file_name {names[i]!r})")
            splits[split] = Split(labels, images=images, ids=[str(i) for i in ids])
        if names["train"] != names["test"]:
            raise DataError("categories differ from the training JSON's", ann_dir / files["test"], field="categories")
        require_disjoint(splits["train"].ids, splits["test"].ids, paths["test"], "id", "image id")
        require_disjoint(splits["train"].images, splits["test"].images, paths["test"], "file_name", "image file")
        digest = verify_release(names["train"], {s: len(v) for s, v in splits.items()}, RELEASES[year],
                                str(ann_dir), self.verify)
        data = DatasetData(
            name="coco", class_names=names["train"], train=splits["train"], test=splits["test"], fully_labelled=True,
            val_index=cole_val_index(len(splits["train"])) if self.order == "cole" else None,
            meta={"year": year, "order": self.order, "class_list_sha256": digest,
                  "annotations": {s: str(ann_dir / f) for s, f in files.items()}},
        )
        return data
