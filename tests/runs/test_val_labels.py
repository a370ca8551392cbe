"""``val_labels``: models selected on the protocol's validation labels or on clean ones."""
from __future__ import annotations

import numpy as np
import pytest

from bench.core.errors import InputError
from bench.labels.encoding import NEG, to_dense
from bench.labels.protocols import default_val_labels
from bench.runs.config import RunConfig, resolve_config
from bench.runs.execute import execute
from bench.runs.modes import ConfigError
from bench.runs.recipe import Recipe
from bench.runs.resolve import prepare, resolve_dataset
from bench.store import Store


def test_single_positive_validates_on_clean_labels_by_default_and_the_rest_on_partial():
    assert default_val_labels("single-positive") == "clean"
    assert default_val_labels("rpa") == default_val_labels(None) == "partial"
    assert resolve_config(RunConfig("negative", "scene+single-positive")).config["split"]["val_labels"] == "clean"
    assert resolve_config(RunConfig("negative", "scene+rpa[p=0.5]")).config["split"]["val_labels"] == "partial"
    forced = resolve_config(RunConfig("negative", "scene+single-positive", val_labels="partial"))
    assert forced.config["split"]["val_labels"] == "partial"


def test_clean_validation_labels_are_the_true_labels_of_the_validation_rows():
    resolved = resolve_dataset("scene+single-positive")
    partial, clean = prepare(resolved, val_labels="partial"), prepare(resolved, val_labels="clean")
    rows = clean.rows("val")
    assert np.array_equal(to_dense(clean.labels("val")), to_dense(clean.data.train.labels[rows]))
    assert not (to_dense(partial.labels("val")) == NEG).any()  # single-positive leaves no negative
    assert (to_dense(clean.labels("val")) == NEG).any()
    assert np.array_equal(to_dense(clean.labels("train")), to_dense(partial.labels("train")))


def test_bad_val_labels_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="val_labels must be one of partial, clean; got 'dirty'"):
        resolve_config(RunConfig("negative", "scene", val_labels="dirty"))
    with pytest.raises(InputError, match="val_labels must be one of"):
        prepare(resolve_dataset("scene"), val_labels="dirty")


def test_a_single_positive_run_trains_end_to_end_with_clean_validation(tmp_path):
    outcome = execute(RunConfig("negative", "scene+single-positive", recipe=Recipe(epochs=2)),
                      Store(tmp_path / "s.db"), progress=False)
    record = outcome.record
    assert outcome.status == "done" and record.config["split"]["val_labels"] == "clean"
    assert record.selection["policy"] == "val" and np.isfinite(record.selection["value"])
