"""OpenImages V6 human-verified image-level labels (natively partial, ~9,600 classes, sparse).

``layout=human-labels`` (default) reads ``oidv6-train-annotations-human-imagelabels.csv`` and
``test-annotations-human-imagelabels.csv`` (``ImageID,Source,LabelName,Confidence``; 1 = POS,
0 = NEG, everything else un-annotated) with the streaming reader of ``bench.io.openimages``:
rows are the images with >= 1 label of a listed class, sorted by ImageID; images are
``{root}/{train,test}/<ImageID>.jpg``. ``layout=miil`` reads MIIL's ``data.csv`` instead
(``bench.io.miil``; its ``val`` split is the test split; image paths are its file names).

Classes: a trainable-classes file (``classes``, default ``oidv6-classes-trainable.txt``, 9,605
MIDs in file order) or ``classes=labels``: every MID with >= ``min_positives`` positive training
images, sorted. The V6 trainable list is not available offline, so only its size (9,605) and MID
format are checked; ``classes_sha256`` additionally checks the list's fingerprint (sha256 of the
newline-joined MIDs) when the user knows it. Display names go to ``meta["display_names"]`` when
``oidv6-class-descriptions.csv`` is present.

An ImageID (or MIIL image) in both splits is refused as test leakage; image paths that resolve
outside ``root`` are refused unless ``allow_outside_root=true``. CSVs are UTF-8, BOM accepted.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from bench import DatasetData, ImageDataset, Param, Split, register_dataset
from bench.io.checks import require_disjoint
from bench.io.errors import DataError, require_dir
from bench.io.integrity import VERIFY_LEVELS, KnownRelease, verify_release
from bench.io.miil import read_miil_csv
from bench.io.openimages import HumanLabels, read_class_list, read_human_labels
from bench.io.roots import ALLOW_OUTSIDE_ROOT, require_inside_root
from bench.io.text import read_text

RELEASE = KnownRelease("OpenImages V6 (trainable classes)", 9605)


def display_names(path: Path, header: bool) -> dict[str, str]:
    """MID -> display name from a class-descriptions CSV (``LabelName,DisplayName``; UTF-8, BOM
    accepted); ``DataError`` naming the line of a malformed row."""
    if not path.is_file():
        return {}
    reader = csv.reader(io.StringIO(read_text(path, "class descriptions"), newline=""))
    names: dict[str, str] = {}
    try:
        for row in reader:
            if header and reader.line_num == 1 or not row:
                continue
            if len(row) < 2:
                raise DataError(f"expected 'LabelName,DisplayName', got {len(row)} field(s)", path, reader.line_num)
            names[row[0]] = row[1]
    except csv.Error as err:
        raise DataError(f"malformed CSV: {err}", path, reader.line_num) from None
    return names


def to_split(labels: HumanLabels, image_dir: Path, suffix: str) -> Split:
    """A split whose ids and image paths are rendered lazily from the compact id store."""
    return Split(labels.labels, images=labels.ids.with_affixes(f"{image_dir}/", suffix), ids=labels.ids)


@register_dataset("openimages-v6")
class OpenImagesV6(ImageDataset):
    """OpenImages V6: natively partial human-verified labels, stored sparsely."""

    version = "1"
    description = "OpenImages V6 human-verified image-level labels (9,605 trainable classes), sparse"
    image_size = 224  # the CSL recipe trains OpenImages at 224 (448 elsewhere)
    data_folder = "openimages"
    root_layout = ("oidv6-train-annotations-human-imagelabels.csv, test-annotations-human-imagelabels.csv, "
                   "oidv6-classes-trainable.txt, train/, test/ (or data.csv with layout=miil)")
    parameters = {
        "root": Param(None, type=str, help="folder holding the label CSVs, class files and train/, test/ images"),
        "layout": Param("human-labels", choices=("human-labels", "miil"), help="official CSVs or MIIL's data.csv"),
        "train_labels": Param("oidv6-train-annotations-human-imagelabels.csv",
                              help="training label CSV (human-labels)"),
        "test_labels": Param("test-annotations-human-imagelabels.csv", help="test label CSV (human-labels)"),
        "data_csv": Param("data.csv", help="MIIL annotation file (layout=miil)"),
        "classes": Param("oidv6-classes-trainable.txt",
                         help="trainable-classes file, or 'labels' to derive from the labels"),
        "min_positives": Param(1, min=0, help="classes=labels: least positive training images for a class"),
        "classes_sha256": Param(None, type=str, help="expected sha256 of the class list (optional)"),
        "descriptions": Param("oidv6-class-descriptions.csv", help="class descriptions CSV (optional, display names)"),
        "train_images": Param("train", help="training image folder, relative to root"),
        "test_images": Param("test", help="test image folder, relative to root"),
        "verify": Param("full", choices=VERIFY_LEVELS, help="check the class count (9,605) of a given class list"),
        "allow_outside_root": ALLOW_OUTSIDE_ROOT,
    }

    def read(self) -> DatasetData:
        root = require_dir(self.root, "the OpenImages V6 folder", "dataset 'openimages-v6'")
        classes = None if self.classes == "labels" else read_class_list(root / self.classes)
        if self.layout == "miil":
            parts = read_miil_csv(root / self.data_csv, classes, self.min_positives)
            train, test, suffix = parts["train"], parts["test"], ""
            sources, field = {"train": root / self.data_csv, "test": root / self.data_csv}, "image"
        else:
            train = read_human_labels(root / self.train_labels, classes, self.min_positives)
            test = read_human_labels(root / self.test_labels, train.classes)
            suffix = ".jpg"
            sources, field = {"train": root / self.train_labels, "test": root / self.test_labels}, "ImageID"
        require_disjoint(train.ids, test.ids, sources["test"], field, field)
        source = str(root / (self.classes if classes is not None else self.train_labels))
        digest = verify_release(train.classes, {}, RELEASE, source, self.verify if classes is not None else "off",
                                self.classes_sha256)
        names = display_names(root / self.descriptions, header=True)
        splits = {"train": to_split(train, root / self.train_images, suffix),
                  "test": to_split(test, root / self.test_images, suffix)}
        for split, part in splits.items():
            require_inside_root(part.images, root, self.allow_outside_root, sources[split], field,
                                lambda i, part=part: f"image {part.ids[i]}")
        data = DatasetData(
            name="openimages-v6", class_names=list(train.classes),
            train=splits["train"], test=splits["test"],
            fully_labelled=False,
            meta={"class_list_sha256": digest, "class_source": self.classes, "layout": self.layout,
                  "display_names": [names.get(m, m) for m in train.classes],
                  "ingest": {"train": train.stats, "test": test.stats}},
        )
        return data
