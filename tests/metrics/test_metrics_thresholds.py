"""Threshold / top-k precision-recall-F1 and Spearman correlation (bench.metrics)."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_score, recall_score

from bench.labels.encoding import NEG, POS, UNANN, to_sparse
from bench.metrics import entry_scores, spearman, threshold_metrics, top_k_mask, top_k_spearman

P, N, U = POS, NEG, UNANN
SCORES = np.array(
    [
        [0.95, 0.2, 0.1, 0.3, 0.6],
        [0.9, 0.7, 0.2, 0.1, 0.9],
        [0.8, 0.5, 0.3, 0.5, 0.4],
        [0.8, 0.3, 0.4, 0.85, 0.1],
    ]
)
LABELS = np.array([[U, P, U, N, P], [P, N, U, N, U], [N, N, U, U, P], [P, U, U, N, U]], np.int8)


def _f1(p, r):
    return 2 * p * r / (p + r)


def test_threshold_hand_worked():
    # per class (TP, FP, FN) over annotated entries, predicted = score >= 0.5:
    # c0 (2, 1, 0), c1 (0, 2, 1), c2 not counted, c3 (0, 1, 0), c4 (1, 0, 1)
    got = threshold_metrics(SCORES, LABELS, threshold=0.5)
    cp, cr, op, orr = (2 / 3 + 0 + 0 + 1) / 4, (1 + 0 + 0 + 0.5) / 4, 3 / 7, 3 / 5
    expected = {"CP": cp, "CR": cr, "CF1": _f1(cp, cr), "OP": op, "OR": orr, "OF1": _f1(op, orr)}
    assert got == pytest.approx({k: 100 * v for k, v in expected.items()})


def test_top3_hand_worked():
    # top-3 per image: {0, 4, 3}, {0, 4, 1}, {0, 1, 3}, {3, 0, 2};
    # c0 (2, 1, 0), c1 (0, 2, 1), c3 (0, 2, 0), c4 (1, 0, 1)
    got = threshold_metrics(SCORES, LABELS, top_k=3)
    cp, cr, op, orr = 5 / 12, 3 / 8, 3 / 8, 3 / 5
    expected = {"CP": cp, "CR": cr, "CF1": _f1(cp, cr), "OP": op, "OR": orr, "OF1": _f1(op, orr)}
    assert got == pytest.approx({k: 100 * v for k, v in expected.items()})


def test_top_k_ties_go_to_the_lower_class_index():
    mask = top_k_mask(np.array([[0.5, 0.5, 0.5, 0.9], [1.0, 0.0, 0.0, 0.0]]), 2)
    np.testing.assert_array_equal(mask, [[True, False, False, True], [True, True, False, False]])


def test_threshold_matches_sklearn_macro_and_micro_on_full_labels():
    rng = np.random.default_rng(21)
    truth = rng.random((300, 10)) < 0.3
    scores = rng.random((300, 10))
    labels = np.where(truth, P, N).astype(np.int8)
    got = threshold_metrics(scores, labels, threshold=0.6)
    predicted = scores >= 0.6
    macro = {"average": "macro", "zero_division": 0}
    assert got["CP"] == pytest.approx(100 * precision_score(truth, predicted, **macro))
    assert got["CR"] == pytest.approx(100 * recall_score(truth, predicted, **macro))
    assert got["OP"] == pytest.approx(100 * precision_score(truth, predicted, average="micro"))
    assert got["OR"] == pytest.approx(100 * recall_score(truth, predicted, average="micro"))


def test_threshold_sparse_equals_dense_and_top_k_needs_dense_scores():
    sparse = to_sparse(LABELS)
    assert threshold_metrics(entry_scores(SCORES, sparse), sparse) == threshold_metrics(SCORES, LABELS)
    assert threshold_metrics(SCORES, sparse, top_k=2) == threshold_metrics(SCORES, LABELS, top_k=2)
    with pytest.raises(ValueError, match="top_k needs dense"):
        threshold_metrics(entry_scores(SCORES, sparse), sparse, top_k=2)
    with pytest.raises(ValueError, match="top_k: 6 must be between 1 and the number of classes"):
        threshold_metrics(SCORES, LABELS, top_k=6)


def test_spearman_hand_worked():
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([3, 2, 1], [10, 20, 30]) == pytest.approx(-1.0)
    # ranks (4, 3, 2, 1) vs (4, 1, 3, 2): sum d^2 = 6 -> 1 - 6 * 6 / (4 * 15)
    assert spearman([0.9, 0.8, 0.1, 0.0], [100, 1, 50, 2]) == pytest.approx(0.4)
    # the 2 most frequent true classes are 0 and 2, estimated 0.9 > 0.1 like 100 > 50
    assert top_k_spearman([0.9, 0.8, 0.1, 0.0], [100, 1, 50, 2], k=2) == pytest.approx(1.0)
    # top 3 = classes 0, 2, 3: estimate ranks (3, 1, 2) vs true (3, 2, 1) -> 1 - 6 * 2 / (3 * 8)
    assert top_k_spearman([0.9, 0.8, 0.0, 0.1], [100, 1, 50, 2], k=3) == pytest.approx(0.5)


def test_spearman_rejects_bad_input():
    with pytest.raises(ValueError, match="must be 1-D and match truth shape"):
        spearman([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="NaN or inf"):
        spearman([1, np.nan, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="k: 5 must be between 2"):
        top_k_spearman([1, 2, 3], [1, 2, 3], k=5)


def test_entry_scores_by_blocks_equals_entry_scores_on_the_whole_matrix():
    from bench.metrics.entries import entry_scores_by_blocks

    rng = np.random.default_rng(3)
    labels = to_sparse(rng.choice(np.array([-1, 0, 0, 1], dtype=np.int8), size=(1003, 37)))
    scores = rng.random((1003, 37), dtype=np.float32)
    calls = []

    def rows(a, b):
        calls.append((a, b))
        return scores[a:b]

    gathered = entry_scores_by_blocks(rows, labels, block_rows=100)
    assert gathered.dtype == np.float32 and np.array_equal(gathered, entry_scores(scores, labels))
    assert calls[0] == (0, 100) and calls[-1] == (1000, 1003) and len(calls) == 11
    with pytest.raises(ValueError, match="rows 0:100"):
        entry_scores_by_blocks(lambda a, b: scores[a:b, :5], labels, block_rows=100)
