"""Small, valid input trees for every shipped dataset loader, written by the tests themselves.

Each ``write_<loader>(root)`` writes a tree under ``root`` and returns the plugin parameters that
load it (``check_images="header"`` for image datasets, so every image is read). The trees are tiny
(a handful of rows and classes) but laid out as the real releases are; tests corrupt copies of them
(tests/datasets/test_fuzz_loaders.py, tests/datasets/test_loader_integrity.py).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench.core.resources import shipped

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(24)
HEADER = "ImageID,Source,LabelName,Confidence"
MIDS = ["/m/01g317", "/m/0199g", "/m/04rky", "/m/0k4j"]
VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
               "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor")
VENDORED_SCENE = shipped("datasets") / "data" / "scene" / "scene.npz"
VENDORED_COCO_MINI = shipped("datasets") / "data" / "coco_mini"


def _images(folder: Path, names) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(JPEG)


def coco_json(ids: list[int], categories: list[tuple[int, str]], positives: dict[int, list[int]]) -> dict:
    images = [{"id": i, "file_name": f"{i:012d}.jpg", "height": 8, "width": 8} for i in ids]
    anns, n = [], 1
    for image_id, cats in positives.items():
        for cat in cats:
            anns.append({"id": n, "image_id": image_id, "category_id": cat, "iscrowd": 0, "area": 4.0,
                         "bbox": [0, 0, 2, 2], "segmentation": [[0, 0, 2, 0, 2, 2]]})
            n += 1
    return {"info": {"year": 2014}, "licenses": [], "images": images, "annotations": anns,
            "categories": [{"id": c, "name": name, "supercategory": "x"} for c, name in categories]}


COCO_CATEGORIES = [(1, "person"), (3, "car"), (18, "dog")]


def write_coco(root: Path) -> dict:
    """instances_train2014.json (4 images, 3 annotated) and instances_val2014.json (3 images)."""
    ann = root / "annotations"
    ann.mkdir(parents=True, exist_ok=True)
    splits = {"train2014": ([9, 25, 30, 42], {9: [1, 3], 25: [18], 42: [1, 1, 18]}),
              "val2014": ([100, 101, 139], {100: [3], 101: [1, 18], 139: [18]})}
    for folder, (ids, positives) in splits.items():
        doc = coco_json(ids, COCO_CATEGORIES, positives)
        (ann / f"instances_{folder}.json").write_text(json.dumps(doc))
        _images(root / folder, [f"{i:012d}.jpg" for i in ids])
    return {"root": str(root), "verify": "off", "check_images": "header"}


def coco_mini_params(root: Path) -> dict:
    return {"root": str(root), "check_images": "header"}


def copy_coco_mini(root: Path) -> dict:
    shutil.copytree(VENDORED_COCO_MINI, root, dirs_exist_ok=True)
    return coco_mini_params(root)


def lvis_image(image_id: int, folder: str, neg: list[int], not_exhaustive: list[int]) -> dict:
    return {"id": image_id, "coco_url": f"http://images.cocodataset.org/{folder}/{image_id:012d}.jpg",
            "neg_category_ids": neg, "not_exhaustive_category_ids": not_exhaustive, "height": 8, "width": 8,
            "license": 1, "flickr_url": "", "date_captured": ""}


def lvis_annotation(ann_id: int, image_id: int, category_id: int) -> dict:
    return {"id": ann_id, "image_id": image_id, "category_id": category_id, "area": 4.0, "bbox": [0, 0, 2, 2],
            "segmentation": [[0, 0, 2, 0, 2, 2]]}


LVIS_CATEGORIES = [{"id": 3, "name": "airplane", "frequency": "f", "synset": "airplane.n.01", "image_count": 5,
                    "instance_count": 9, "synonyms": ["airplane"], "def": ""},
                   {"id": 793, "name": "person", "frequency": "c", "synset": "person.n.01", "image_count": 9,
                    "instance_count": 20, "synonyms": ["person"], "def": ""},
                   {"id": 1000, "name": "stand_in", "frequency": "r", "synset": "x.n.01", "image_count": 1,
                    "instance_count": 1, "synonyms": ["x"], "def": ""}]


def write_lvis(root: Path) -> dict:
    """lvis_v1_train.json (4 images, 3 annotated) and lvis_v1_val.json (2 images), images on disk."""
    ann = root / "annotations"
    ann.mkdir(parents=True, exist_ok=True)
    train_images = [lvis_image(10, "train2017", [1000], [793]), lvis_image(5, "val2017", [3], []),
                    lvis_image(7, "train2017", [3], []), lvis_image(8, "train2017", [], [])]
    train_anns = [lvis_annotation(1, 10, 3), lvis_annotation(2, 10, 793), lvis_annotation(3, 5, 1000),
                  lvis_annotation(4, 8, 3)]
    test_images = [lvis_image(20, "val2017", [793], []), lvis_image(21, "val2017", [], [3])]
    test_anns = [lvis_annotation(9, 20, 3), lvis_annotation(10, 21, 1000)]
    for name, images, anns in (("lvis_v1_train.json", train_images, train_anns),
                               ("lvis_v1_val.json", test_images, test_anns)):
        doc = {"info": {"version": "1.0"}, "licenses": [], "images": images, "annotations": anns,
               "categories": LVIS_CATEGORIES}
        (ann / name).write_text(json.dumps(doc))
        for image in images:
            folder, file = image["coco_url"].split("/")[-2:]
            _images(root / folder, [file])
    return {"root": str(root), "verify": "off", "check_images": "header"}


def write_voc(root: Path) -> dict:
    """VOC2007/ImageSets/Main/<class>_{trainval,test}.txt over 6 + 4 images, JPEGImages on disk."""
    rng = np.random.default_rng(0)
    main = root / "VOC2007" / "ImageSets" / "Main"
    main.mkdir(parents=True, exist_ok=True)
    for split, ids in (("trainval", [f"{i:06d}" for i in (5, 7, 9, 12, 16, 17)]),
                       ("test", [f"{i:06d}" for i in (1, 2, 3, 4)])):
        labels = rng.choice([1, -1, -1, 0], size=(len(ids), len(VOC_CLASSES)))
        for c, name in enumerate(VOC_CLASSES):
            (main / f"{name}_{split}.txt").write_text("".join(f"{i} {int(v):2d}\n" for i, v in zip(ids, labels[:, c])))
        _images(root / "VOC2007" / "JPEGImages", [f"{i}.jpg" for i in ids])
    return {"root": str(root), "verify": "off", "check_images": "header", "difficult": "negative"}


FOLDER_ROWS = ["a/1.jpg,train,1,0,0", "a/2.jpg,test,0,1,1", "b/3.jpg,train,1,1,0", "b/4.jpg,train,0,0,1",
               "b/5.jpg,test,1,0,0"]


def write_folder(root: Path) -> dict:
    """labels.csv (image,split,cat,dog,bird; 3 train and 2 test rows) and the images."""
    _images(root, [r.split(",")[0] for r in FOLDER_ROWS])
    (root / "labels.csv").write_text("\n".join(["image,split,cat,dog,bird", *FOLDER_ROWS]) + "\n")
    return {"root": str(root), "check_images": "header"}


def _label_rows(ids: list[str], seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    rows = []
    for image_id in ids:
        for mid in rng.choice(MIDS, size=2, replace=False):
            rows.append(f"{image_id},verification,{mid},{int(rng.random() < 0.5)}")
    return rows


def _openimages_ids(start: int, count: int) -> list[str]:
    return [f"{start + 977 * k:016x}" for k in range(count)]


def write_openimages_v6(root: Path) -> dict:
    """The human-labels layout: train (5 images) and test (3 images) CSVs, the class list, images."""
    root.mkdir(parents=True, exist_ok=True)
    train, test = _openimages_ids(0x1000, 5), _openimages_ids(0x9000, 3)
    (root / "oidv6-train-annotations-human-imagelabels.csv").write_text("\n".join([HEADER, *_label_rows(train, 1)])
                                                                        + "\n")
    (root / "test-annotations-human-imagelabels.csv").write_text("\n".join([HEADER, *_label_rows(test, 2)]) + "\n")
    (root / "oidv6-classes-trainable.txt").write_text("\n".join(MIDS) + "\n")
    (root / "oidv6-class-descriptions.csv").write_text("LabelName,DisplayName\n" +
                                                       "".join(f"{m},Class {i}\n" for i, m in enumerate(MIDS)))
    _images(root / "train", [f"{i}.jpg" for i in train])
    _images(root / "test", [f"{i}.jpg" for i in test])
    return {"root": str(root), "verify": "off", "check_images": "header"}


def write_miil(root: Path) -> dict:
    """MIIL's data.csv layout (image, positives, negatives, split) with its images."""
    root.mkdir(parents=True, exist_ok=True)
    a, b, c, d = MIDS
    rows = [("000a.jpg", [a, b], [c], "train"), ("000b.jpg", [b], [], "train"), ("000c.jpg", [c], [a], "train"),
            ("000d.jpg", [a], [d], "val"), ("000e.jpg", [b, c], [], "val")]
    lines = ["image,positive,negative,split"]
    for name, pos, neg, split in rows:
        lines.append(f'{name},"{pos!r}","{neg!r}",{split}'.replace('"[]"', "[]"))
    (root / "data.csv").write_text("\n".join(lines) + "\n")
    _images(root / "train", [r[0] for r in rows if r[3] == "train"])
    _images(root / "test", [r[0] for r in rows if r[3] == "val"])
    return {"root": str(root), "verify": "off", "check_images": "header", "layout": "miil", "classes": "labels"}


def write_openimages_v3(root: Path) -> dict:
    """2017_11/{train,test}/annotations-human.csv and classes-trainable.txt, images on disk."""
    release = root / "2017_11"
    train, test = _openimages_ids(0x2000, 6), _openimages_ids(0xa000, 3)
    for split, ids, seed in (("train", train, 3), ("test", test, 4)):
        (release / split).mkdir(parents=True, exist_ok=True)
        (release / split / "annotations-human.csv").write_text("\n".join([HEADER, *_label_rows(ids, seed)]) + "\n")
        _images(root / split, [f"{i}.jpg" for i in ids])
    (release / "classes-trainable.txt").write_text("\n".join(MIDS) + "\n")
    return {"root": str(root), "verify": "off", "check_images": "header"}


def feature_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(10, 4)), (rng.random((10, 3)) < 0.4).astype(np.int8)
    Y[:, 0] = 1  # every class has a positive in both splits whatever rows a test keeps
    return {"X": X, "Y": Y}


def write_features_npz(root: Path, layout: str = "split") -> dict:
    """features.npz: ``split`` layout (X_train, Y_train, X_test, Y_test, ids) or ``xy`` (X, Y, split)."""
    root.mkdir(parents=True, exist_ok=True)
    a = feature_arrays()
    X, Y = a["X"], a["Y"]
    names = np.array(["x", "y", "z"])
    if layout == "split":
        np.savez(root / "features.npz", X_train=X[:7], Y_train=Y[:7], X_test=X[7:], Y_test=Y[7:], class_names=names,
                 ids_train=np.array([f"r{i}" for i in range(7)]), ids_test=np.array([f"t{i}" for i in range(3)]))
    else:
        np.savez(root / "features.npz", X=X, Y=Y, split=np.array(["train"] * 7 + ["test"] * 3), class_names=names,
                 ids=np.array([f"r{i}" for i in range(10)]))
    return {"path": str(root / "features.npz")}


def write_features_parquet(root: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    a = feature_arrays()
    table = pa.table({"X": a["X"].tolist(), "Y": a["Y"].tolist(), "split": ["train"] * 7 + ["test"] * 3,
                      "id": [f"r{i}" for i in range(10)]})
    table = table.replace_schema_metadata({"class_names": json.dumps(["x", "y", "z"])})
    pq.write_table(table, root / "features.parquet")
    return {"path": str(root / "features.parquet")}


def copy_scene(root: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(VENDORED_SCENE, root / "scene.npz")
    return {"root": str(root)}


# loader case -> (registered dataset name, writer)
WRITERS = {
    "coco": ("coco", write_coco),
    "coco-mini": ("coco-mini", copy_coco_mini),
    "lvis": ("lvis", write_lvis),
    "voc2007": ("voc2007", write_voc),
    "folder": ("folder", write_folder),
    "openimages-v6": ("openimages-v6", write_openimages_v6),
    "openimages-v6-miil": ("openimages-v6", write_miil),
    "openimages-v3": ("openimages-v3", write_openimages_v3),
    "features-npz": ("features", write_features_npz),
    "features-npz-xy": ("features", lambda root: write_features_npz(root, "xy")),
    "features-parquet": ("features", write_features_parquet),
    "scene": ("scene", copy_scene),
}
