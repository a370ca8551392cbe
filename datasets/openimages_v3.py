"""OpenImages V3 (2017_11 release) human-verified image-level labels, 5,000 trainable classes.

Files under ``{root}/{release}/``: ``train/annotations-human.csv`` and ``test/`` (or
``validation/``) ``annotations-human.csv`` (``ImageID,Source,LabelName,Confidence``; 1 = POS,
0 = NEG), ``classes-trainable.txt`` (5,000 MIDs: the column order). Rows: images with >= 1 label of a trainable
class, sorted by ImageID; images ``{root}/{train,test}/<ImageID>.jpg``. Natively partial, sparse.

Class groups ``G1``..``G5`` (every V3 table): classes sorted by their number of positive
training annotations (after merging duplicate listings), ascending, ties broken by class index,
then cut into five consecutive groups of equal size (``numpy.array_split``: 1,000 each for 5,000
classes); G1 is the rarest.

An ImageID in both splits is refused as test leakage; image paths that resolve outside ``root``
are refused unless ``allow_outside_root=true``. CSVs are UTF-8, BOM accepted.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bench import DatasetData, ImageDataset, Param, Split, register_dataset
from bench.io.checks import require_disjoint
from bench.io.errors import require_dir
from bench.io.integrity import VERIFY_LEVELS, KnownRelease, verify_release
from bench.io.openimages import read_class_list, read_human_labels
from bench.io.roots import ALLOW_OUTSIDE_ROOT, require_inside_root

if TYPE_CHECKING:  # scipy.sparse costs ~0.15 s to import and plugin discovery imports every dataset file
    import scipy.sparse as sp

RELEASE = KnownRelease("OpenImages V3 (2017_11 trainable classes)", 5000)
NUM_GROUPS = 5


def frequency_groups(labels: sp.csr_array, num_groups: int = NUM_GROUPS) -> dict[str, list[int]]:
    """``{"G1": [...], ...}``: classes by ascending positive count (ties: lower index first), cut
    into ``num_groups`` consecutive groups of equal size (earlier groups one larger on a remainder)."""
    positives = np.bincount(labels.indices[labels.data > 0], minlength=labels.shape[1])
    order = np.lexsort((np.arange(labels.shape[1]), positives))
    return {f"G{g + 1}": part.tolist() for g, part in enumerate(np.array_split(order, num_groups))}


@register_dataset("openimages-v3")
class OpenImagesV3(ImageDataset):
    """OpenImages V3: natively partial human-verified labels, G1..G5 frequency groups."""

    version = "1"
    description = "OpenImages V3 (2017_11) human-verified image-level labels, 5,000 classes, groups G1-G5"
    image_size = 224  # the CSL recipe trains OpenImages at 224 (448 elsewhere)
    data_folder = "openimages"
    root_layout = ("2017_11/train/annotations-human.csv, 2017_11/test/annotations-human.csv, "
                   "2017_11/classes-trainable.txt, train/, test/")
    parameters = {
        "root": Param(None, type=str, help="folder holding the release folder and train/, test/ images"),
        "release": Param("2017_11", help="release folder, relative to root"),
        "test_split": Param("test", choices=("test", "validation"), help="which official split is the test split"),
        "classes": Param("classes-trainable.txt", help="trainable-classes file in the release folder"),
        "classes_sha256": Param(None, type=str, help="expected sha256 of the class list (optional)"),
        "train_images": Param("train", help="training image folder, relative to root"),
        "test_images": Param("test", help="test image folder, relative to root"),
        "verify": Param("full", choices=VERIFY_LEVELS, help="check the class count (5,000)"),
        "allow_outside_root": ALLOW_OUTSIDE_ROOT,
    }

    def read(self) -> DatasetData:
        root = require_dir(self.root, "the OpenImages V3 folder", "dataset 'openimages-v3'")
        release = root / self.release
        classes = read_class_list(release / self.classes)
        digest = verify_release(classes, {}, RELEASE, str(release / self.classes), self.verify, self.classes_sha256)
        sources = {"train": release / "train" / "annotations-human.csv",
                   "test": release / self.test_split / "annotations-human.csv"}
        train = read_human_labels(sources["train"], classes)
        test = read_human_labels(sources["test"], classes)
        require_disjoint(train.ids, test.ids, sources["test"], "ImageID", "ImageID")
        splits = {
            name: Split(part.labels, images=part.ids.with_affixes(f"{root / folder}/", ".jpg"), ids=part.ids)
            for name, part, folder in (("train", train, self.train_images), ("test", test, self.test_images))
        }
        for name, part in splits.items():
            require_inside_root(part.images, root, self.allow_outside_root, sources[name], "ImageID",
                                lambda i, part=part: f"image {part.ids[i]}")
        data = DatasetData(
            name="openimages-v3", class_names=classes, train=splits["train"], test=splits["test"],
            fully_labelled=False, class_groups=frequency_groups(train.labels),
            meta={"class_list_sha256": digest, "ingest": {"train": train.stats, "test": test.stats}},
        )
        return data
