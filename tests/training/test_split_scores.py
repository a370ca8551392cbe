"""Sparse splits are scored at their annotated entries only, with the same numbers as the dense path."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from bench.labels.encoding import canonical_csr
from bench.metrics import evaluate
from bench.metrics.entries import entry_scores
from bench.training.inference import SCORE_CHUNK, predict, split_scores


def test_sparse_labels_get_entry_scores_equal_to_the_dense_path():
    rng = np.random.default_rng(0)
    rows = SCORE_CHUNK + 37  # more than one chunk
    dense = rng.choice(np.array([1, -1, 0, 0, 0], dtype=np.int8), size=(rows, 7))
    dense[0], dense[1] = 1, -1
    labels = sp.csr_array(dense)
    torch.manual_seed(0)
    model, features = torch.nn.Linear(5, 7), torch.randn(rows, 5)
    scores, csr = split_scores(model, features, labels)
    full = predict(model, features).numpy()
    assert scores.ndim == 1 and scores.size == labels.nnz
    assert np.array_equal(scores, entry_scores(full, canonical_csr(labels)))
    assert evaluate(scores, csr).map_c == evaluate(full, dense).map_c


def test_dense_labels_keep_the_dense_scores():
    model, features = torch.nn.Linear(5, 3), torch.randn(10, 5)
    labels = np.ones((10, 3), dtype=np.int8)
    scores, same = split_scores(model, features, labels)
    assert scores.shape == (10, 3) and same is labels
