"""No stale cache hits: the configuration hash changes when any file a plugin depends on changes (a
delegated plugin, a base class, a local helper module) and when an engine part's version changes."""
from __future__ import annotations

import dataclasses

import pytest

from bench.plugins.identity import delegated_names, dependency_files
from bench.plugins.registry import DATASETS, METHODS
from bench.runs import engine_versions
from bench.runs.config import RunConfig, resolve_config

BASE = """
    import numpy as np
    from bench import DatasetData, DatasetPlugin, Split, register_dataset

    @register_dataset("tmp-base")
    class Base(DatasetPlugin):
        def load(self):
            rng = np.random.default_rng(0)
            labels = np.where(rng.random((40, 3)) < 0.5, 1, -1).astype(np.int8)
            features = rng.normal(size=(40, 4)).astype(np.float32)
            split = lambda a, b: Split(features[a:b], labels[a:b])
            return DatasetData("tmp-base", ["a", "b", "c"], split(0, 30), split(30, 40))
"""
DERIVED = """
    from bench import DatasetPlugin, get_dataset_class, register_dataset

    @register_dataset("tmp-derived")
    class Derived(DatasetPlugin):
        def load(self):
            data = get_dataset_class("tmp-base")().load()
            data.name = "tmp-derived"
            return data
"""
HELPER = """
    SCALE = 0.5
"""
METHOD = """
    import torch
    from bench import Method, register_method

    from ._scaling import SCALE

    @register_method("tmp-scaled")
    class Scaled(Method):
        def loss(self, logits, labels, state=None):
            return SCALE * torch.nn.functional.softplus(-logits * labels.float()).sum()
"""
PRESET = """
    from bench import register_method

    from .tmp_scaled import Scaled

    @register_method("tmp-scaled-preset")
    class ScaledPreset(Scaled):
        description = "a preset in another file"
"""
FILES = {"datasets/tmp_base.py": BASE, "datasets/tmp_derived.py": DERIVED, "methods/_scaling.py": HELPER,
         "methods/tmp_scaled.py": METHOD, "methods/tmp_preset.py": PRESET}


def _hash(method: str, dataset: str) -> str:
    return resolve_config(RunConfig(method, dataset)).config_hash


def _edit(path) -> None:
    path.write_text(path.read_text() + "\nEDITED = True\n")


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    from tests.helpers.plugins import temporary_plugins

    with temporary_plugins(tmp_path, monkeypatch, FILES) as folder:
        yield folder


@pytest.mark.parametrize("edited", ["datasets/tmp_base.py", "datasets/tmp_derived.py"])
def test_editing_a_delegated_dataset_changes_the_hash(plugins, edited):
    before = _hash("tmp-scaled", "tmp-derived")
    assert _hash("tmp-scaled", "tmp-derived") == before  # stable while nothing changes
    _edit(plugins / edited)
    assert _hash("tmp-scaled", "tmp-derived") != before


def test_editing_a_local_helper_module_changes_the_hash(plugins):
    before = _hash("tmp-scaled", "tmp-base")
    _edit(plugins / "methods" / "_scaling.py")
    assert _hash("tmp-scaled", "tmp-base") != before


def test_a_preset_in_another_file_covers_its_base(plugins):
    files = {path.name for path in dependency_files(METHODS.get("tmp-scaled-preset"))}
    assert files == {"tmp_preset.py", "tmp_scaled.py", "_scaling.py"}
    before = _hash("tmp-scaled-preset", "tmp-base")
    _edit(plugins / "methods" / "tmp_scaled.py")
    assert _hash("tmp-scaled-preset", "tmp-base") != before


def test_an_unrelated_plugin_file_leaves_the_hash_alone(plugins):
    before = _hash("tmp-scaled", "tmp-base")
    _edit(plugins / "datasets" / "tmp_derived.py")  # tmp-base does not delegate to it
    assert _hash("tmp-scaled", "tmp-base") == before


def test_shipped_delegations_are_covered():
    assert {p.name for p in dependency_files(DATASETS.get("coco-mini"))} == {"coco_mini.py", "coco.py"}
    assert {p.name for p in dependency_files(METHODS.get("ignore"))} == {"p_asl.py"}


def test_delegated_names_read_literal_selectors():
    source = ("get_dataset_class('coco')\nx.get_method('p-asl[gamma_neg=4]')\n"
              "get_dataset('voc2007+rpa[p=0.5]')\nget_method(name)")
    assert delegated_names(source) == [("datasets", "coco"), ("methods", "p-asl"), ("datasets", "voc2007")]


def test_an_engine_version_is_part_of_the_hash(monkeypatch):
    config = resolve_config(RunConfig("negative", "scene"))
    assert config.config["engine"]["metrics"] == {"version": engine_versions.ENGINE_PARTS["metrics"].version}
    bumped = dict(engine_versions.ENGINE_PARTS)
    bumped["metrics"] = dataclasses.replace(bumped["metrics"], version="999")
    monkeypatch.setattr(engine_versions, "ENGINE_PARTS", bumped)
    assert resolve_config(RunConfig("negative", "scene")).config_hash != config.config_hash
