"""VOC 2007 plugin on ImageSets/Main files written in the devkit layout from ../shared/data/voc_labels."""
from __future__ import annotations

import numpy as np
import pytest

from bench.io.errors import DataError
from bench.labels.encoding import NEG, POS, UNANN, label_counts
from bench.plugins.registry import DATASETS
from bench.runs.resolve import prepare, resolve_dataset
from tests.helpers.shared import shared_path

CLASSES = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
           "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor"]


def write_main(root, split: str, ids, labels) -> None:
    """``<class>_<split>.txt`` as the devkit writes them: ``'%s %2d'`` per line."""
    main = root / "VOC2007" / "ImageSets" / "Main"
    main.mkdir(parents=True, exist_ok=True)
    for c, name in enumerate(CLASSES):
        (main / f"{name}_{split}.txt").write_text("".join(f"{i} {int(v):2d}\n" for i, v in zip(ids, labels[:, c])))


def toy_labels(seed: int, n: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    return [f"{i:06d}" for i in range(1, n + 1)], rng.choice([1, -1, -1, -1, 0], size=(n, 20)).astype(np.int8)


@pytest.fixture
def voc_root(tmp_path):
    """Devkit files of the real VOC 2007 labels (../shared) under tmp_path/VOCdevkit."""
    npz = np.load(shared_path("data", "voc_labels", "voc_labels.npz"))
    assert npz["class_names"].tolist() == CLASSES
    root = tmp_path / "VOCdevkit"
    write_main(root, "trainval", npz["voc2007_trainval_image_ids"], npz["voc2007_trainval_labels"])
    write_main(root, "test", npz["voc2007_test_image_ids"], npz["voc2007_test_labels"])
    return root, npz


def load(root, **params):
    return DATASETS.get("voc2007")(**{"root": str(root), "check_images": "off", **params}).load()


def test_real_voc2007_labels_round_trip_with_difficult_unannotated(voc_root):
    root, npz = voc_root
    data = load(root)  # verify=full: 5,011 / 4,952 images, the official sizes
    assert data.train.ids == npz["voc2007_trainval_image_ids"].tolist()
    assert np.array_equal(data.train.labels, npz["voc2007_trainval_labels"])  # 1 / -1 / 0 map to POS / NEG / UNANN
    assert np.array_equal(data.test.labels, npz["voc2007_test_labels"])
    assert data.fully_labelled and np.all(data.train.labels[npz["voc2007_trainval_labels"] == 0] == UNANN)
    assert label_counts(data.train.labels).positives[CLASSES.index("person")] == 2008
    assert data.train.images[0] == str(root / "VOC2007" / "JPEGImages" / "000005.jpg")


def test_difficult_mapping_options_and_protocols(voc_root):
    root, npz = voc_root
    difficult = npz["voc2007_trainval_labels"] == 0
    for option, value in (("negative", NEG), ("positive", POS)):
        data = load(root, difficult=option)
        assert data.fully_labelled and np.all(data.train.labels[difficult] == value)
        assert np.all(data.test.labels[npz["voc2007_test_labels"] == 0] == value)
    prepared = prepare(resolve_dataset(f"voc2007[root={root},check_images=off,difficult=negative]+known[q=0.3]"))
    assert prepared.manifest.stats("all").spearman > 0.9
    default = prepare(resolve_dataset(f"voc2007[root={root},check_images=off]+known[q=0.3]"))
    assert np.all(default.manifest.labels[difficult] == UNANN)  # difficult entries stay un-annotated
    kept = (default.manifest.labels != UNANN).sum() / (~difficult).sum()
    assert 0.28 < kept < 0.32 and default.manifest.stats("all").spearman > 0.9


def test_sizes_checked_against_the_release(tmp_path):
    ids, labels = toy_labels(0, 17)
    write_main(tmp_path, "trainval", ids[:12], labels[:12])
    write_main(tmp_path, "test", ids[12:], labels[12:])
    with pytest.raises(DataError, match="train split has 12 images, PASCAL VOC 2007 has 5,011"):
        load(tmp_path)
    data = load(tmp_path, verify="classes")
    assert np.array_equal(data.train.labels, labels[:12]) and len(data.test) == 5


def test_malformed_and_inconsistent_files(tmp_path):
    ids, labels = toy_labels(1, 6)
    write_main(tmp_path, "trainval", ids, labels)
    write_main(tmp_path, "test", ids, labels)
    main = tmp_path / "VOC2007" / "ImageSets" / "Main"
    (main / "bird_test.txt").write_text("000001 -1\n000002  2\n")
    with pytest.raises(DataError, match=r"bird_test\.txt:2: expected '<image id> <1\|-1\|0>', got '000002  2'"):
        load(tmp_path, verify="off")
    (main / "bird_test.txt").write_text("".join(f"{i} -1\n" for i in reversed(ids)))
    with pytest.raises(DataError, match=r"bird_test\.txt: image list differs from aeroplane_test\.txt at entry 1"):
        load(tmp_path, verify="off")
    (main / "bird_test.txt").unlink()
    with pytest.raises(DataError, match=r"bird_test\.txt: VOC class file not found"):
        load(tmp_path, verify="off")
