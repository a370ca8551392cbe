"""coco-mini: 256 real COCO-2017 images as 128-px thumbnails, vendored for the real-image path.

The ``coco`` dataset plugin reads the vendored ``datasets/data/coco_mini/``
(see its SOURCE.md): training split = the first 128 train2017 images, test split = the first 128
val2017 images, 80 categories in COCO-id order; images without any object are left out, as in
``coco``. Fully labelled, so the simulation protocols apply. Small enough to train on a CPU in about
a minute (``image_size`` = 64 is its default square input; any recipe may override it); with 126
training images the mAP says little about a method -- it checks the image pipeline.
"""
from __future__ import annotations

from pathlib import Path

from bench import DatasetData, ImageDataset, Param, get_dataset_class, register_dataset
from bench.io.roots import ALLOW_OUTSIDE_ROOT

VENDORED = Path(__file__).resolve().parent / "data" / "coco_mini"


@register_dataset("coco-mini")
class CocoMini(ImageDataset):
    """The vendored COCO thumbnails, loaded by the ``coco`` plugin."""

    version = "1"
    description = "256 real COCO-2017 images (128-px thumbnails, 80 classes), embedded; the real-image smoke test"
    image_size = 64
    parameters = {
        "root": Param(None, type=str, help="folder laid out as datasets/data/coco_mini (default: the vendored copy)"),
        "allow_outside_root": ALLOW_OUTSIDE_ROOT,
    }

    def read(self) -> DatasetData:
        root = Path(self.root) if self.root else VENDORED
        coco = get_dataset_class("coco")(
            root=str(root), year="2017", train_json="instances_train.json", test_json="instances_test.json",
            train_images="train", test_images="test", verify="classes", allow_outside_root=self.allow_outside_root,
        )
        data = coco.read()
        data.name = "coco-mini"
        data.meta["source"] = str(root)
        return data
