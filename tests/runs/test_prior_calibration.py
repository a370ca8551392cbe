"""The class prior is calibrated and checked (issue 13, item 2): on ``scene+rpa[p=0.5]`` the
temporary ignore model of the shipped linear recipe converges, and the provenance records Spearman
and the calibration error against the true training frequencies; without the truth, against the
annotated frequencies (never the annotated positive counts)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bench.labels.encoding import label_counts
from bench.runs.config import RunConfig
from bench.runs.execute import execute
from bench.runs.prior import REFERENCES, prior_diagnostics
from bench.runs.recipe_files import recipe_for_run
from bench.runs.resolve import get_dataset
from bench.store import Store

DATASET = "scene+rpa[p=0.5]"


def test_the_shipped_recipe_gives_a_calibrated_prior_on_scene(tmp_path):
    _, recipe = recipe_for_run("linear", False, None, {})
    record = execute(RunConfig("selective", DATASET, recipe=recipe), Store(tmp_path / "runs.db"),
                     progress=False).record
    prior = record.extra["artifacts"]["class_prior"]
    assert prior["source"] == "run" and prior["estimator"] == "posthoc"
    assert prior["reference"] == "true" and prior["reference_description"] == REFERENCES["true"]
    assert prior["classes_compared"] == 6
    assert prior["spearman"] >= 0.9, prior
    assert prior["calibration_error"] <= 0.05, prior


def test_the_reference_is_the_true_frequency_when_known():
    manifest = get_dataset(DATASET).manifest
    truth = np.asarray(manifest.true_positives, dtype=np.float64) / manifest.train_index.size
    figures = prior_diagnostics(truth + 0.01, manifest)
    assert figures["reference"] == "true"
    assert figures["spearman"] == pytest.approx(1.0) and figures["calibration_error"] == pytest.approx(0.01)


def test_without_the_truth_the_reference_is_the_annotated_frequency():
    """FPC keeps about the same number of positives per class: ranking a prior against those counts
    would say nothing; the annotated frequency pos / (pos + neg) is the estimate to compare with."""
    manifest = replace(get_dataset("scene+fpc[n_s=40]").manifest, true_positives=None, true_positives_val=None)
    counts = label_counts(manifest.labels[manifest.train_index])
    frequency = counts.positives / (counts.positives + counts.negatives)
    figures = prior_diagnostics(frequency, manifest)
    assert figures["reference"] == "annotated" and figures["reference_description"] == REFERENCES["annotated"]
    assert figures["spearman"] == pytest.approx(1.0) and figures["calibration_error"] == pytest.approx(0.0)
    assert "spearman_topk" not in figures


def test_a_class_without_annotations_is_left_out():
    manifest = get_dataset(DATASET).manifest
    labels = manifest.labels.copy()
    labels[:, 2] = 0
    manifest = replace(manifest, labels=labels, true_positives=None, true_positives_val=None)
    counts = label_counts(labels[manifest.train_index])
    with np.errstate(invalid="ignore"):
        frequency = counts.positives / (counts.positives + counts.negatives)
    prior = np.where(np.isnan(frequency), 0.9, frequency)
    figures = prior_diagnostics(prior, manifest)
    assert figures["classes_compared"] == 5 and figures["calibration_error"] == pytest.approx(0.0)
