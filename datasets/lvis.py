"""LVIS v1 image-level partial labels from ``lvis_v1_{train,val}.json``.

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

The JSON is read and type-checked here (the ``lvis`` package's index, without its asserts): ids
are unique integers, category lists hold known category ids; no image id or image file is in both
splits; an image path outside ``root`` is refused unless ``allow_outside_root=true``.
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import numpy as np

from bench import DatasetData, ImageDataset, Param, Split, register_dataset
from bench.io.checks import require_disjoint, require_rows, require_unique
from bench.io.errors import DataError, require_dir, require_file
from bench.io.integrity import VERIFY_LEVELS, KnownRelease, verify_release
from bench.io.jsonfields import (
    annotation_pairs,
    entries,
    get_int_list,
    get_str,
    index_by_id,
    read_json,
    top_object,
)
from bench.io.roots import ALLOW_OUTSIDE_ROOT, require_inside_root
from bench.io.sparse_labels import csr_from_triplets

# Images listed in the v1 JSONs (detectron2's LVIS loader logs; not checked against a file here).
RELEASE = KnownRelease("LVIS v1", 1203, "ec0290d86a7d76b7f7057c9af07ea20fb7888b3e1a81f5c3200aa07106281b8d",
                       {"train": 100170, "test": 19809})
GROUPS = {"r": "rare", "c": "common", "f": "frequent"}


def _image_path(image: dict, image_id: int, images_root: Path, json_path: Path) -> str:
    url = image.get("coco_url")
    if not url:
        raise DataError(f"image {image_id} has no coco_url", json_path, field="coco_url")
    url = get_str(image, "coco_url", json_path, f"image {image_id}")
    parts = [p for p in PurePosixPath(urlparse(url).path).parts if p != "/"]
    if len(parts) < 2 or any(p in (".", "..") for p in parts[-2:]):
        raise DataError(f"image {image_id}: coco_url {url!r} does not end in <folder>/<file>", json_path,
                        field="coco_url")
    return str(images_root.joinpath(*parts[-2:]))


def load_lvis_split(json_path: Path, images_root: Path, keep: str, not_exhaustive_as_unannotated: bool):
    """(Split, categories sorted by id, not-exhaustive CSR bool, stats) of one LVIS JSON.

    The JSON is type-checked as it is read (``bench.io.jsonfields``): unique integer ids, integer
    category lists naming categories of ``categories``, annotations naming images of ``images``."""
    doc = top_object(read_json(json_path, "LVIS annotations"), json_path)
    images, anns, categories = (entries(doc, key, json_path) for key in ("images", "annotations", "categories"))
    by_id = index_by_id(categories, "categories", json_path)
    imgs = index_by_id(images, "images", json_path)
    index_by_id(anns, "annotations", json_path)
    cats = [by_id[c] for c in sorted(by_id)]
    names = [get_str(c, "name", json_path, f"category {c['id']}") for c in cats]
    require_unique(names, json_path, "name", "category name")
    column = {c["id"]: j for j, c in enumerate(cats)}
    positives_of: dict[int, set[int]] = {}
    for image_id, category_id in annotation_pairs(anns, imgs, json_path):
        positives_of.setdefault(image_id, set()).add(category_id)
    rows, cols, flags, ne_rows, ne_cols, kept = [], [], [], [], [], []
    for image_id in sorted(imgs):
        image = imgs[image_id]
        positives = positives_of.get(image_id, set())
        negatives = set(get_int_list(image, "neg_category_ids", json_path, f"image {image_id}"))
        not_exhaustive = get_int_list(image, "not_exhaustive_category_ids", json_path, f"image {image_id}")
        for cat_ids, field in ((positives, "category_id"), (negatives, "neg_category_ids"),
                               (not_exhaustive, "not_exhaustive_category_ids")):
            unknown = next((c for c in sorted(cat_ids) if c not in column), None)
            if unknown is not None:
                raise DataError(f"category {unknown} of image {image_id} is not in 'categories'", json_path,
                                field=field)
        if not (positives if keep == "annotated" else positives | negatives):
            continue
        r = len(kept)
        kept.append(image_id)
        for cat_ids, flag in ((positives, True), (negatives, False)):
            for cat_id in cat_ids:
                rows.append(r), cols.append(column[cat_id]), flags.append(flag)
        for cat_id in not_exhaustive:
            ne_rows.append(r), ne_cols.append(column[cat_id])
    import scipy.sparse as sp  # ~0.15 s to import, and plugin discovery imports every dataset file

    shape = (len(kept), len(cats))
    not_exhaustive = sp.csr_array((np.ones(len(ne_rows), bool), (ne_rows, ne_cols)), shape=shape)
    rows, cols, flags = np.array(rows, np.int64), np.array(cols, np.int64), np.array(flags, bool)
    if not_exhaustive_as_unannotated and rows.size:
        drop = np.isin(rows * shape[1] + cols, np.array(ne_rows, np.int64) * shape[1] + np.array(ne_cols, np.int64))
        rows, cols, flags = rows[~drop], cols[~drop], flags[~drop]
    labels, stats = csr_from_triplets(rows, cols, flags, shape)
    stats["images_in_json"] = len(imgs)
    split = Split(labels, images=[_image_path(imgs[i], i, images_root, json_path) for i in kept],
                  ids=[str(i) for i in kept])
    return split, cats, names, not_exhaustive, stats


@register_dataset("lvis")
class Lvis(ImageDataset):
    """LVIS v1: natively partial labels over 1,203 classes (positives, verified negatives)."""

    version = "1"
    description = "LVIS v1 image-level labels: 1,203 classes, positives + verified negatives, rare/common/frequent"
    data_folder = "lvis"
    root_layout = ("the COCO 2017 images train2017/, val2017/ and annotations/lvis_v1_train.json, "
                   "annotations/lvis_v1_val.json")
    parameters = {
        "root": Param(None, type=str, help="folder holding the COCO 2017 images (train2017/, val2017/)"),
        "annotations": Param("annotations", help="folder of the LVIS JSONs, relative to root"),
        "train_json": Param("lvis_v1_train.json", help="training JSON in the annotation folder"),
        "test_json": Param("lvis_v1_val.json", help="test JSON in the annotation folder"),
        "keep": Param("annotated", choices=("annotated", "labelled"),
                      help="rows: images with >= 1 annotation, or with >= 1 positive or negative"),
        "not_exhaustive_as_unannotated": Param(False, help="treat not-exhaustive categories as un-annotated"),
        "verify": Param("full", choices=VERIFY_LEVELS, help="check class list and image counts against LVIS v1"),
        "allow_outside_root": ALLOW_OUTSIDE_ROOT,
    }

    def split_sizes(self) -> dict[str, int]:
        """The images the LVIS v1 JSONs list (100,170 / 19,809); rows kept may be slightly fewer."""
        return dict(RELEASE.split_sizes)

    def read(self) -> DatasetData:
        root = require_dir(self.root, "the COCO 2017 image folder", "dataset 'lvis'")
        ann_dir = root / self.annotations
        splits, cats, names, paths = {}, {}, {}, {}
        meta = {"not_exhaustive": {}, "conflicting_pairs": {}, "images_in_json": {}}
        for split, name in (("train", self.train_json), ("test", self.test_json)):
            path = paths[split] = require_file(ann_dir / name, f"LVIS {split} annotations")
            part, cats[split], names[split], not_exhaustive, stats = load_lvis_split(
                path, root, self.keep, self.not_exhaustive_as_unannotated)
            require_rows(len(part), path, split, f"{self.keep} images")
            require_unique(part.images, path, "coco_url", "image file")
            require_inside_root(part.images, root, self.allow_outside_root, path, "coco_url",
                                lambda i, part=part: f"image {part.ids[i]}")
            splits[split] = part
            meta["not_exhaustive"][split] = not_exhaustive
            meta["conflicting_pairs"][split] = stats["conflicting_pairs"]
            meta["images_in_json"][split] = stats["images_in_json"]
        if names["train"] != names["test"]:
            raise DataError("categories differ from the training JSON's", ann_dir / self.test_json, field="categories")
        require_disjoint(splits["train"].ids, splits["test"].ids, paths["test"], "id", "image id")
        require_disjoint(splits["train"].images, splits["test"].images, paths["test"], "coco_url", "image file")
        names = names["train"]
        meta["class_list_sha256"] = verify_release(names, meta["images_in_json"], RELEASE, str(ann_dir), self.verify)
        groups: dict[str, list[int]] = {g: [] for g in GROUPS.values()}
        for j, cat in enumerate(cats["train"]):
            if not isinstance(cat.get("frequency"), str) or cat["frequency"] not in GROUPS:
                raise DataError(f"category {cat['id']} has frequency {cat.get('frequency')!r}, expected r/c/f",
                                ann_dir / self.train_json, field="frequency")
            groups[GROUPS[cat["frequency"]]].append(j)
        meta["person_index"] = names.index("person") if "person" in names else None
        data = DatasetData(name="lvis", class_names=names, train=splits["train"], test=splits["test"],
                           fully_labelled=False, class_groups=groups, meta=meta)
        return data
