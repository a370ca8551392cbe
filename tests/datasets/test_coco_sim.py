"""coco-sim: the vendored real COCO-2014 labels (checksums, equal to ../shared's originals) and the
simulated features (shapes, determinism, named as a simulation)."""
from __future__ import annotations

import hashlib
import re
import sys

import numpy as np
import pytest

from bench.plugins.registry import DATASETS
from tests.helpers.shared import shared_path

coco_sim = sys.modules[DATASETS.get("coco-sim").__module__]  # the plugin module as the registry loaded it

SOURCE = coco_sim.VENDORED.parent / "SOURCE.md"


def load(**params):
    return DATASETS.get("coco-sim")(**params).load()


@pytest.fixture(scope="module")
def data():
    return load()


def _sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _labels01(labels) -> np.ndarray:
    return (np.asarray(labels) == 1).astype(np.uint8)


def test_shapes_and_types(data):
    assert data.name == "coco-sim" and data.fully_labelled and data.num_classes == 80
    assert data.class_names[:3] == ["person", "bicycle", "car"] and data.class_names[-1] == "toothbrush"
    assert data.train.labels.shape == (82_081, 80) and data.test.labels.shape == (40_137, 80)
    assert data.train.features.shape == (82_081, 64) and data.test.features.shape == (40_137, 64)
    assert data.train.features.dtype == np.float32 and np.isfinite(data.train.features).all()
    assert set(np.unique(data.train.labels)) == {-1, 1}
    assert int((data.train.labels == 1).sum()) == 241_035 and int((data.test.labels == 1).sum()) == 116_592
    assert data.train.ids[0] == "COCO_train2014_000000000009" and data.test.ids[0] == "COCO_val2014_000000000042"


def test_named_as_a_simulation(data):
    cls = DATASETS.get("coco-sim")
    assert cls.description.startswith("SIMULATED features")
    assert data.meta["simulated_features"] is True


def test_features_are_deterministic_and_seeded(data):
    coco_sim._simulate.cache_clear()  # a fresh generation, not the memoised arrays
    again = load()
    assert np.array_equal(again.train.features, data.train.features)
    assert np.array_equal(again.test.features, data.test.features)
    other = load(seed=1)
    assert np.array_equal(other.train.labels, data.train.labels)  # the labels are fixed
    assert not np.allclose(other.train.features, data.train.features)
    assert load(dim=16).train.features.shape == (82_081, 16)


def test_features_carry_signal_but_not_perfectly(data):
    """Per class, the positives' mean feature differs from the negatives' (signal), yet the noise and
    the visibility draw make rows of the same label vector differ (no lookup table)."""
    y = data.train.labels == 1
    x = data.train.features
    person = x[y[:, 0]].mean(0) - x[~y[:, 0]].mean(0)
    assert np.linalg.norm(person) > 0.1
    only_person = np.flatnonzero(y.sum(1) == y[:, 0])[:50]
    assert np.std(x[only_person], axis=0).mean() > 0.05


def test_source_note_and_checksums():
    text = SOURCE.read_text()
    for needed in ("Origin and license", "CC BY 4.0", "How it was derived", "Checksums", "SIMULATED"):
        assert needed in text
    file_sha, train_sha, val_sha = re.findall(r"sha256\s+`([0-9a-f]{64})`", text.split("## Checksums")[1])
    assert hashlib.sha256(coco_sim.VENDORED.read_bytes()).hexdigest() == file_sha
    arrays = dict(np.load(coco_sim.VENDORED))
    train, _ = coco_sim.unpack_labels(arrays, "train", coco_sim.VENDORED)
    val, _ = coco_sim.unpack_labels(arrays, "val", coco_sim.VENDORED)
    assert _sha(train.toarray().astype(np.uint8)) == train_sha
    assert _sha(val.toarray().astype(np.uint8)) == val_sha


def test_labels_equal_the_shared_originals(data):
    original = np.load(shared_path("data", "coco2014_labels", "coco2014_labels.npz"))
    assert np.array_equal(_labels01(data.train.labels), original["train_labels"])
    assert np.array_equal(_labels01(data.test.labels), original["val_labels"])
    assert data.train.ids == [f"COCO_train2014_{i:012d}" for i in original["train_image_ids"]]
    assert data.test.ids == [f"COCO_val2014_{i:012d}" for i in original["val_image_ids"]]
    assert data.class_names == [str(n) for n in original["class_names"]]
