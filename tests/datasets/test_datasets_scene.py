"""The embedded default dataset ``scene``: the vendored copy is the shared one, loads with the
documented shapes and statistics, and the ``root`` parameter reads another copy."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from bench.core.resources import shipped
from bench.io.errors import DataError
from bench.labels.encoding import NEG, POS, is_fully_labelled
from bench.plugins.registry import DATASETS
from tests.helpers.shared import shared_path

VENDORED = shipped("datasets") / "data" / "scene" / "scene.npz"
SHA256 = "29d5e48efe027d42ad23a27e3b8cbcde3e3a3cb464beb131c9eb23af5d0cf2da"


def test_vendored_file_and_its_source_notes():
    assert hashlib.sha256(VENDORED.read_bytes()).hexdigest() == SHA256
    notes = (VENDORED.parent / "SOURCE.md").read_text()
    assert SHA256 in notes and "li9i/mlaslcs" in notes and "Boutell" in notes


def test_vendored_copy_equals_the_shared_one():
    shared = shared_path("data", "mulan_scene", "scene.npz")
    assert shared.read_bytes() == VENDORED.read_bytes()


def test_scene_loads_with_the_documented_shapes_and_totals():
    data = DATASETS.get("scene")().load()
    assert data.class_names == ["Beach", "Sunset", "FallFoliage", "Field", "Mountain", "Urban"]
    assert data.train.features.shape == (1211, 294) and data.test.features.shape == (1196, 294)
    assert data.train.features.dtype == np.float32 and data.train.labels.dtype == np.int8
    assert data.fully_labelled and is_fully_labelled(data.train.labels) and is_fully_labelled(data.test.labels)
    totals = (data.train.labels == POS).sum(0) + (data.test.labels == POS).sum(0)
    assert totals.tolist() == [427, 364, 397, 433, 533, 431]  # SOURCE.md
    assert set(np.unique(data.train.labels)) == {POS, NEG}
    assert len(data.train.ids) == 1211 and data.train.ids[0] == "train-0"
    assert DATASETS.get("scene").modality == "features"


def test_root_reads_another_copy_and_names_a_missing_file(tmp_path):
    (tmp_path / "scene.npz").write_bytes(VENDORED.read_bytes())
    data = DATASETS.get("scene")(root=str(tmp_path)).load()
    assert data.meta["source"] == str(tmp_path / "scene.npz")
    with pytest.raises(DataError, match=r"nowhere/scene.npz: dataset 'scene': scene.npz not found"):
        DATASETS.get("scene")(root=str(tmp_path / "nowhere")).load()
    np.savez(tmp_path / "scene.npz", X_train=np.zeros((2, 3), np.float32))
    with pytest.raises(DataError, match="scene.npz: field 'X_test': dataset 'scene': lacks the key"):
        DATASETS.get("scene")(root=str(tmp_path)).load()
