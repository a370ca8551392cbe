"""Class-prior helpers (bench/runs/prior.py): estimators against plain numpy, the official CSV format
(the released COCO FPC-1000 file included) and its errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from bench.runs.prior import (
    PriorAccumulator,
    PriorFileError,
    posthoc_prior,
    prior_spearman,
    read_prior_csv,
    true_class_frequencies,
    write_prior_csv,
)
from tests.helpers.shared import shared_path

NAMES = ["cat", "dog", "bird"]


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def test_posthoc_prior_is_the_mean_sigmoid():
    logits = np.random.default_rng(0).normal(size=(50, 3)) * 3
    np.testing.assert_allclose(posthoc_prior(torch.tensor(logits)), sigmoid(logits).mean(axis=0), rtol=1e-6)
    batches = [torch.tensor(logits[i:i + 16]) for i in range(0, 50, 16)]
    np.testing.assert_allclose(posthoc_prior(batches), sigmoid(logits).mean(axis=0), rtol=1e-6)


def test_running_prior_averages_every_step_since_step_zero():
    rng = np.random.default_rng(1)
    epoch1, epoch2 = rng.normal(size=(8, 3)), rng.normal(size=(8, 3)) + 2
    running = PriorAccumulator(3)
    for batch in (epoch1[:4], epoch1[4:], epoch2[:4], epoch2[4:]):
        running.update(torch.tensor(batch))
    assert running.count == 16
    np.testing.assert_allclose(running.value(), sigmoid(np.vstack([epoch1, epoch2])).mean(axis=0), rtol=1e-6)
    with pytest.raises(ValueError, match=r"shape \(B, 3\)"):
        running.update(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="no predictions"):
        PriorAccumulator(3).value()


def test_true_frequencies_and_spearman():
    labels = np.array([[1, 0, -1], [1, 1, 0], [-1, 1, 0], [1, 0, 0]], dtype=np.int8)
    np.testing.assert_allclose(true_class_frequencies(labels), [0.75, 0.5, 0.0])
    assert prior_spearman([0.1, 0.3, 0.2], [1, 3, 2]) == pytest.approx(1.0)
    assert prior_spearman([1, 3, 2], [1, 2, 3]) == pytest.approx(spearmanr([1, 3, 2], [1, 2, 3]).statistic)


def test_csv_round_trip(tmp_path):
    path = tmp_path / "prior.csv"
    write_prior_csv(path, NAMES, [0.5, 0.125, 1e-3])
    assert path.read_text().splitlines()[0] == "Classes,avg_pred"
    np.testing.assert_array_equal(read_prior_csv(path, NAMES), [0.5, 0.125, 1e-3])


@pytest.mark.parametrize("text, message", [
    ("Class,avg\ncat,0.1\n", r"prior.csv:1: expected the header"),
    ("Classes,avg_pred\ncat,0.1\nbird,0.2\ndog,0.3\n", r"prior.csv:3: class 'bird' where 'dog' is expected"),
    ("Classes,avg_pred\ncat,0.1\ndog,0.2\n", r"prior.csv: 2 classes, expected 3; missing 'bird'"),
    ("Classes,avg_pred\ncat,0.1\ndog,0.2\nbird,0.3\nfish,0.1\n", r"prior.csv:5: extra class 'fish'"),
    ("Classes,avg_pred\ncat,0.1\ndog,high\nbird,0.3\n", r"prior.csv:3: avg_pred 'high' is not a probability"),
    ("Classes,avg_pred\ncat,0.1\ndog,1.5\nbird,0.3\n", r"prior.csv:3: avg_pred '1.5'"),
])
def test_bad_files_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "prior.csv"
    path.write_text(text)
    with pytest.raises(PriorFileError, match=message):
        read_prior_csv(path, NAMES)


def test_released_coco_prior_reads_with_a_warning_and_ranks_like_csl_figure_7():
    folder = shared_path("data", "coco2014_labels")
    names = [c["name"] for c in json.loads((folder / "categories.json").read_text())]
    with pytest.warns(UserWarning, match=r"csl_prior_fpc_1000.csv:82: skipping the stray line '1542867'"):
        prior = read_prior_csv(folder / "csl_prior_fpc_1000.csv", names)
    assert prior.shape == (80,) and prior[0] == pytest.approx(0.542279)
    assert names[int(prior.argmin())] == "hair drier" and (prior > 0.5).sum() == 1
    frequencies = true_class_frequencies(np.load(folder / "coco2014_labels.npz")["train_labels"])
    # CSL Figure 7 reports 0.81 for its FPC-1000 estimate; the released file gives 0.802
    assert prior_spearman(prior, frequencies) == pytest.approx(0.802, abs=0.005)
