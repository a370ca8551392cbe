"""PASCAL VOC 2007 image-level labels from the devkit's ``ImageSets/Main/<class>_<split>.txt``.

Each per-class file lists every image of the split, one ``<image id> <label>`` per line, label
1 (present), -1 (absent) or 0 (present only as "difficult" objects). Rows keep the files' order
(all 20 files must list the same ids); columns are the 20 classes in the devkit order. Training =
``trainval`` (5,011 images), test = ``test`` (4,952); images ``{root}/JPEGImages/<id>.jpg``.

``difficult`` maps the 0 entries: ``unannotated`` (default; the VOC evaluation ignores difficult
objects), ``negative`` (Cole et al.'s formatting keeps only label 1) or ``positive``. With
``unannotated`` the training split is not fully labelled, so simulation protocols (rpa, fpc, ...)
need ``difficult=negative`` or ``positive``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bench import DatasetData, ImageDataset, Param, Split, register_dataset
from bench.io.checks import require_disjoint
from bench.io.errors import DataError, require_dir
from bench.io.integrity import VERIFY_LEVELS, KnownRelease, verify_release
from bench.io.roots import ALLOW_OUTSIDE_ROOT, require_inside_root
from bench.io.text import read_text
from bench.labels.encoding import LABEL_DTYPE, NEG, POS, UNANN

CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
           "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor")
RELEASE = KnownRelease("PASCAL VOC 2007", 20, "7d877f185c807bc51b4cfb4f4202fc0b4e1c6724b782ba245fe36f8d254f0ad7",
                       {"train": 5011, "test": 4952})
DIFFICULT = {"unannotated": UNANN, "negative": NEG, "positive": POS}


def read_class_file(path: Path) -> tuple[list[str], np.ndarray]:
    """(image ids, labels in {1, -1, 0}) of one ``<class>_<split>.txt`` (UTF-8, BOM accepted);
    ``DataError`` at a malformed line, a repeated image id, or a file that lists no image."""
    ids, values, line_of = [], [], {}
    for line_no, line in enumerate(read_text(path, "VOC class file").split("\n"), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("1", "-1", "0"):
            shown = line.strip() if len(line.strip()) <= 60 else line.strip()[:57] + "..."
            raise DataError(f"expected '<image id> <1|-1|0>', got {shown!r}", path, line_no)
        if fields[0] in line_of:
            raise DataError(f"image id {fields[0]!r} listed again (first on line {line_of[fields[0]]})", path,
                            line_no, "image id")
        line_of[fields[0]] = line_no
        ids.append(fields[0])
        values.append(int(fields[1]))
    if not ids:
        raise DataError("lists no image (empty class file)", path)
    return ids, np.array(values, dtype=LABEL_DTYPE)


def load_voc_split(main_dir: Path, split: str, difficult: int) -> tuple[list[str], np.ndarray]:
    """Image ids and (N, 20) labels of ``split`` (``trainval`` or ``test``), difficult mapped."""
    columns, ids = [], None
    for name in CLASSES:
        path = main_dir / f"{name}_{split}.txt"
        file_ids, values = read_class_file(path)
        if ids is None:
            ids = file_ids
        elif file_ids != ids:
            first = next((i for i, (a, b) in enumerate(zip(file_ids, ids)) if a != b), min(len(ids), len(file_ids)))
            raise DataError(f"image list differs from {CLASSES[0]}_{split}.txt at entry {first + 1}", path)
        columns.append(values)
    labels = np.stack(columns, axis=1)
    labels[labels == 0] = difficult
    return ids or [], labels


@register_dataset("voc2007")
class Voc2007(ImageDataset):
    """PASCAL VOC 2007 classification: trainval for training, test for testing, 20 classes."""

    version = "1"
    description = "PASCAL VOC 2007 from ImageSets/Main (20 classes; difficult = un-annotated by default)"
    data_folder = "voc"
    root_layout = "ImageSets/Main/<class>_{trainval,test}.txt and JPEGImages/ (the VOC2007 folder or its VOCdevkit)"
    parameters = {
        "root": Param(None, type=str, help="the VOC2007 folder (holding ImageSets/ and JPEGImages/) or VOCdevkit"),
        "difficult": Param("unannotated", choices=tuple(DIFFICULT), help="label of 'difficult' (0) entries"),
        "verify": Param("full", choices=VERIFY_LEVELS, help="check split sizes against VOC 2007"),
        "allow_outside_root": ALLOW_OUTSIDE_ROOT,
    }

    def split_sizes(self) -> dict[str, int]:
        """VOC 2007 trainval / test: 5,011 / 4,952 images."""
        return dict(RELEASE.split_sizes)

    def read(self) -> DatasetData:
        root = require_dir(self.root, "the VOC2007 folder", "dataset 'voc2007'")
        if not (root / "ImageSets").is_dir() and (root / "VOC2007" / "ImageSets").is_dir():
            root = root / "VOC2007"
        main_dir = root / "ImageSets" / "Main"
        splits = {}
        for split, file_split in (("train", "trainval"), ("test", "test")):
            ids, labels = load_voc_split(main_dir, file_split, DIFFICULT[self.difficult])
            images = [str(root / "JPEGImages" / f"{i}.jpg") for i in ids]
            require_inside_root(images, root, self.allow_outside_root, main_dir / f"{CLASSES[0]}_{file_split}.txt",
                                "image id", lambda i, ids=ids: f"image {ids[i]}")
            splits[split] = Split(labels, images=images, ids=ids)
        require_disjoint(splits["train"].ids, splits["test"].ids, main_dir / f"{CLASSES[0]}_test.txt", "image id",
                         "image id")
        digest = verify_release(list(CLASSES), {s: len(v) for s, v in splits.items()}, RELEASE, str(main_dir),
                                self.verify)
        data = DatasetData(
            name="voc2007", class_names=list(CLASSES), train=splits["train"], test=splits["test"],
            fully_labelled=True,
            meta={"difficult": self.difficult, "class_list_sha256": digest},
        )
        return data
