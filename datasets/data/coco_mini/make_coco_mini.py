"""Rebuild this folder from ``../shared/data/coco2017_first128`` (see SOURCE.md).

Usage: ``python datasets/data/coco_mini/make_coco_mini.py [SHARED_COCO128_DIR]``.

* Thumbnails: every image converted to RGB, its longer side scaled to ``MAX_SIDE`` pixels (aspect
  kept, Lanczos), saved as baseline JPEG quality ``QUALITY`` under ``train/`` and ``test/``.
* ``annotations/instances_train.json``: the original train instances JSON restricted to the fields
  image-level labels need (``id``, ``image_id``, ``category_id``, ``iscrowd``), thumbnail sizes, and
  each image's ``license`` / ``flickr_url`` kept for attribution.
* ``annotations/instances_test.json``: val2017 has no instances JSON in the source, so one
  annotation per (image, positive category) of ``labels_multihot.npz`` (the YOLO labels: crowd
  regions excluded; on the train half they equal the instances JSON's labels on all 128 images).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

MAX_SIDE = 128
QUALITY = 85
HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[3] / "shared" / "data" / "coco2017_first128"


def thumbnail(source: Path, target: Path) -> tuple[int, int]:
    """Write the thumbnail of ``source`` to ``target``; return its (width, height)."""
    with Image.open(source) as image:
        image = image.convert("RGB")
        scale = MAX_SIDE / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        small = image.resize(size, Image.Resampling.LANCZOS)
    target.parent.mkdir(parents=True, exist_ok=True)
    small.save(target, "JPEG", quality=QUALITY, optimize=True)
    return size


def image_entry(info: dict, size: tuple[int, int]) -> dict:
    entry = {"id": int(info["id"]), "file_name": info["file_name"], "width": size[0], "height": size[1]}
    for key in ("license", "flickr_url", "coco_url"):
        if key in info:
            entry[key] = info[key]
    return entry


def build_train(source: Path) -> dict:
    original = json.loads((source / "annotations" / "instances_train2017_first128.json").read_text())
    images = []
    for info in sorted(original["images"], key=lambda i: i["id"]):
        size = thumbnail(source / "images" / "train2017" / info["file_name"], HERE / "train" / info["file_name"])
        images.append(image_entry(info, size))
    annotations = [{"id": a["id"], "image_id": a["image_id"], "category_id": a["category_id"], "iscrowd": a["iscrowd"]}
                   for a in original["annotations"]]
    return {"info": original["info"], "licenses": original["licenses"], "categories": original["categories"],
            "images": images, "annotations": annotations}


def build_test(source: Path, categories: list[dict], licenses: list[dict]) -> dict:
    multihot = np.load(source / "labels_multihot.npz")
    info = json.loads((source / "annotations" / "val2017_image_info_100of128.json").read_text())
    known = {i["id"]: i for i in info["images"]}
    class_ids = multihot["class_ids"]
    images, annotations = [], []
    for image_id, row in zip(multihot["val2017_image_ids"].tolist(), multihot["val2017_labels"]):
        name = f"{image_id:012d}.jpg"
        size = thumbnail(source / "images" / "val2017" / name, HERE / "test" / name)
        images.append(image_entry(known.get(image_id, {"id": image_id, "file_name": name}), size))
        for column in np.flatnonzero(row):
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": int(class_ids[column]), "iscrowd": 0})
    return {"info": {"description": "coco-mini test: val2017 image-level labels from YOLO boxes"},
            "licenses": licenses, "categories": categories, "images": images, "annotations": annotations}


def main(source: Path) -> None:
    train = build_train(source)
    test = build_test(source, train["categories"], train["licenses"])
    folder = HERE / "annotations"
    folder.mkdir(exist_ok=True)
    for name, content in (("instances_train.json", train), ("instances_test.json", test)):
        (folder / name).write_text(json.dumps(content, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE)
