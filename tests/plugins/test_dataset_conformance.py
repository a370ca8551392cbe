"""The dataset conformance suite over every registered dataset (a new dataset file is tested with no
new test), proof that each check catches the fault it is for, and ``bench check-plugin`` on dataset
files and names."""
from __future__ import annotations

import re
import sys

import pytest
from typer.testing import CliRunner

from bench.cli.app import app
from bench.plugins.conformance import ConformanceError
from bench.plugins.dataset_conformance import CHECKS, DECLARATION_CHECKS, LOAD_CHECKS, run_checks
from bench.plugins.registry import DATASETS
from tests.helpers.plugins import temporary_plugins

# load checks that skip by design on a loadable dataset (wrong modality, no reference split)
NOT_APPLICABLE = ("not a features dataset", "not an images dataset", "no reference val_index", "no row ids")
LOADABLE = ("scene", "coco-mini")  # vendored data: must load and pass every load check


@pytest.mark.parametrize("name", sorted(DATASETS.classes()))
def test_registered_dataset_conforms(name):
    results = {r.check: r for r in run_checks(DATASETS.get(name))}
    assert list(results) == list(CHECKS)
    assert {c: r.detail for c, r in results.items() if r.status == "fail"} == {}
    for check in DECLARATION_CHECKS:
        assert results[check].status == "pass" or results[check].detail == "not an ImageDataset"
    if name in LOADABLE or results["load"].status == "pass":
        assert results["load"].status == "pass"
        for check in LOAD_CHECKS:
            assert results[check].status == "pass" or results[check].detail in NOT_APPLICABLE, results[check]
    else:  # needs the user's data: every load check skipped, saying which parameter is missing
        for check in LOAD_CHECKS:
            result = results[check]
            assert result.status == "skip", result
            if result.detail not in NOT_APPLICABLE:
                assert result.detail.startswith("cannot load: ") and re.search(r"\b(root|path)\b", result.detail)


FEATURES = '''
import numpy as np
from bench import DatasetData, DatasetPlugin, Param, Split, register_dataset

CLASSES = ["cat", "dog", "bird"]
TRAIN = np.where(np.random.default_rng(0).random((40, 3)) < 0.3, 1, -1).astype(np.int8)
TEST = np.where(np.random.default_rng(1).random((10, 3)) < 0.3, 1, -1).astype(np.int8)
TRAIN_IDS, TEST_IDS = [f"tr{i}" for i in range(40)], [f"te{i}" for i in range(10)]
FULLY, GROUPS, VAL = True, {"pets": [0, 1]}, np.arange(0, 40, 5)


def features(rows, seed):
    return np.random.default_rng(seed).normal(size=(rows, 5)).astype(np.float32)


@register_dataset("tmp-tiny")
class Tiny(DatasetPlugin):
    """A tiny fully labelled features dataset."""

    version = "1"
    parameters = {"seed": Param(0, help="feature seed")}

    def load(self):
        train = Split(TRAIN.copy(), features=features(len(TRAIN), self.seed), ids=list(TRAIN_IDS))
        test = Split(TEST.copy(), features=features(len(TEST), self.seed + 1), ids=list(TEST_IDS))
        return DatasetData("tmp-tiny", list(CLASSES), train, test, fully_labelled=FULLY, class_groups=GROUPS,
                           val_index=VAL)
'''

IMAGES = '''
from pathlib import Path

import numpy as np
from bench import DatasetData, ImageDataset, Split, register_dataset

HERE = Path(__file__).resolve().parent / "tiny_images"


@register_dataset("tmp-tiny-images")
class TinyImages(ImageDataset):
    """A tiny image dataset over the files next to this plugin."""

    image_size = 32
    parameters = {}

    def read(self):
        paths = [str(HERE / f"{i}.png") for i in range(4)]
        labels = np.array([[1, -1], [-1, 1], [1, 1], [-1, 1]], dtype=np.int8)
        return DatasetData("tmp-tiny-images", ["x", "y"], Split(labels[:2], images=paths[:2], ids=["0", "1"]),
                           Split(labels[2:], images=paths[2:], ids=["2", "3"]))
'''
IMAGE_FILES = {f"datasets/tiny_images/{i}.png": "not empty" for i in range(4)}


def edited(source: str, old: str, new: str) -> str:
    assert source.count(old) == 1, old
    return source.replace(old, new)


NAN = '''
_features = features
def features(rows, seed):
    x = _features(rows, seed)
    x[1, 2] = np.nan
    return x
'''
TINY, TINY_IMAGES = "tmp-tiny", "tmp-tiny-images"
FAULTS = {  # fault -> (plugin source, the dataset it registers, the checks it must fail)
    "duplicate class names": (FEATURES + "CLASSES[2] = 'cat'\n", TINY, {"class_names"}),
    "ids shared by train and test": (FEATURES + "TEST_IDS[3] = 'tr7'\n", TINY, {"ids"}),
    "duplicate ids in a split": (FEATURES + "TRAIN_IDS[3] = 'tr0'\n", TINY, {"ids"}),
    "NaN features": (FEATURES + NAN, TINY, {"features"}),
    "a label value 2": (FEATURES + "TRAIN[5, 1] = 2\n", TINY, {"labels"}),
    "test labels of another width": (FEATURES + "TEST = TEST[:, :2]\n", TINY, {"labels"}),
    "fewer ids than rows": (FEATURES + "TRAIN_IDS.pop()\n", TINY, {"row_counts"}),
    "missing description": (edited(FEATURES, '    """A tiny fully labelled features dataset."""\n', ""), TINY,
                            {"description"}),
    "ill-typed default": (edited(FEATURES, "Param(0, help=", 'Param("zero", type=int, help='), TINY, {"parameters"}),
    "partial but declared fully labelled": (FEATURES + "TRAIN[:5] = 0\n", TINY, {"fully_labelled"}),
    "complete but declared partial": (FEATURES + "FULLY = False\n", TINY, {"fully_labelled"}),
    "class group out of range": (FEATURES + "GROUPS = {'pets': [0, 3]}\n", TINY, {"class_groups"}),
    "val_index out of range": (FEATURES + "VAL = np.array([1, 40])\n", TINY, {"val_index"}),
    "labels change between loads": (FEATURES + "_load = Tiny.load\nTiny.load = lambda self: (_load(self), "
                                    "TRAIN.__setitem__((0, 0), -TRAIN[0, 0]))[0]\n", TINY, {"determinism"}),
    "ImageDataset overriding load": (edited(IMAGES, "def read(self):", "def load(self):"), TINY_IMAGES, {"image_read"}),
    "image_size too small": (edited(IMAGES, "image_size = 32", "image_size = 4"), TINY_IMAGES, {"image_size"}),
    "features modality on an ImageDataset": (
        edited(IMAGES, "    image_size", '    modality = "features"\n    image_size'), TINY_IMAGES,
        {"modality", "features"}),
}


def failing(source: str, tmp_path, monkeypatch, name: str, extra: dict | None = None) -> dict[str, str]:
    files = {"datasets/tiny.py": source, **(extra or {})}
    with temporary_plugins(tmp_path / "plugins", monkeypatch, files):
        return {r.check: r.detail for r in run_checks(DATASETS.get(name)) if r.status == "fail"}


@pytest.mark.parametrize("source, extra, name", [(FEATURES, None, TINY), (IMAGES, IMAGE_FILES, TINY_IMAGES)])
def test_good_plugins_pass(tmp_path, monkeypatch, source, extra, name):
    assert failing(source, tmp_path, monkeypatch, name, extra) == {}


def test_an_image_dataset_without_a_parameters_dict_still_gets_the_image_checks(tmp_path, monkeypatch):
    source = edited(IMAGES, "    parameters = {}\n", "")
    assert failing(source, tmp_path, monkeypatch, TINY_IMAGES, IMAGE_FILES) == {}


def test_a_few_unannotated_entries_are_fully_labelled(tmp_path, monkeypatch):
    """VOC's "difficult" entries: a fully labelled dataset may leave up to 5% un-annotated."""
    assert failing(FEATURES + "TRAIN[0, :] = 0\n", tmp_path, monkeypatch, "tmp-tiny") == {}  # 3 of 120


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_fails_its_check(tmp_path, monkeypatch, fault):
    source, name, expected = FAULTS[fault]
    fails = failing(source, tmp_path, monkeypatch, name, IMAGE_FILES if name == TINY_IMAGES else None)
    assert set(fails) == expected, fails
    with temporary_plugins(tmp_path / "again", monkeypatch, {"datasets/tiny.py": source, **IMAGE_FILES}):
        for check in expected:
            with pytest.raises(ConformanceError):
                CHECKS[check](DATASETS.get(name))


def test_run_checks_loads_twice(tmp_path, monkeypatch):
    """One shared load for the load checks, one more for determinism (real datasets load slowly)."""
    source = FEATURES + "CALLS = []\n_load = Tiny.load\nTiny.load = lambda self: (CALLS.append(1), _load(self))[1]\n"
    with temporary_plugins(tmp_path / "plugins", monkeypatch, {"datasets/tiny.py": source}):
        cls = DATASETS.get("tmp-tiny")
        assert all(r.status != "fail" for r in run_checks(cls))
        assert len(sys.modules[cls.__module__].CALLS) == 2


def invoke(*args: str):
    return CliRunner().invoke(app, ["check-plugin", *args], env={"COLUMNS": "240"})


def test_check_plugin_on_dataset_files(tmp_path, monkeypatch):
    files = {"datasets/good.py": FEATURES, "datasets/bad.py": FEATURES.replace('"tmp-tiny"', '"tmp-bad"')
             + "CLASSES[2] = 'cat'\n"}
    with temporary_plugins(tmp_path / "plugins", monkeypatch, files) as folder:
        good = invoke(str(folder / "datasets" / "good.py"))
        assert good.exit_code == 0, good.output
        assert "dataset conformance: tmp-tiny" in good.output and "fail" not in good.output
        bad = invoke(str(folder / "datasets" / "bad.py"))
        assert bad.exit_code == 1, bad.output
        assert [line for line in bad.output.splitlines() if "fail" in line and "class_names" in line]
        assert "duplicate class name" in bad.output


def test_check_plugin_on_a_broken_dataset_file(tmp_path):
    path = tmp_path / "datasets" / "broken.py"
    path.parent.mkdir()
    path.write_text("from bench import register_dataset\nimport nothing_here_at_all\n")
    result = invoke(str(path))
    assert result.exit_code == 2 and "failed to import" in result.output


@pytest.mark.parametrize("name", ["scene", "coco"])
def test_check_plugin_on_dataset_names(name):
    """A vendored dataset passes; one needing a root skips its load checks, which is no failure."""
    result = invoke(name)
    assert result.exit_code == 0, result.output
    assert f"dataset conformance: {name}" in result.output and "determinism" in result.output


def test_check_plugin_dataset_typo_and_bad_parameter():
    typo = invoke("scen")
    assert typo.exit_code == 2 and "did you mean 'scene'" in typo.output
    bad = invoke("voc2007[difficult=maybe]")
    assert bad.exit_code == 2 and "difficult" in bad.output
