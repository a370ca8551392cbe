"""bench.metrics.evaluate: hand-worked cases, sklearn / reference-formula agreement, sparse == dense."""
from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import average_precision_score

from bench.labels.encoding import NEG, POS, UNANN, to_sparse
from bench.metrics import NO_ANNOTATED, NO_NEGATIVE, NO_POSITIVE, entry_scores, evaluate

P, N, U = POS, NEG, UNANN
# 4 images x 5 classes. Class 0: ties at 0.8 and an un-annotated top score; class 1: plain;
# class 2: nothing annotated; class 3: no positive; class 4: no negative.
HAND_SCORES = [
    [0.95, 0.2, 0.1, 0.3, 0.6],
    [0.9, 0.7, 0.2, 0.1, 0.9],
    [0.8, 0.5, 0.3, 0.5, 0.4],
    [0.8, 0.3, 0.4, 0.85, 0.1],
]
HAND_LABELS = np.array([[U, P, U, N, P], [P, N, U, N, U], [N, N, U, U, P], [P, U, U, N, U]], np.int8)


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def hand_scores(request):
    return np.array(HAND_SCORES, dtype=request.param)


def test_partial_hand_worked(hand_scores):
    result = evaluate(hand_scores, HAND_LABELS)
    # class 0 ranks 0.9 P | 0.8 {N, P} -> (1 + 2/3) / 2; class 1 ranks 0.7 N, 0.5 N, 0.2 P -> 1/3
    np.testing.assert_allclose(result.per_class_ap[:2], [5 / 6, 1 / 3], rtol=1e-12)
    assert np.isnan(result.per_class_ap[2:]).all()
    assert result.excluded == {2: NO_ANNOTATED, 3: NO_POSITIVE, 4: NO_NEGATIVE}
    assert result.exclusion_counts == {NO_ANNOTATED: 1, NO_POSITIVE: 1, NO_NEGATIVE: 1}
    np.testing.assert_array_equal(result.n_pos, [2, 1, 0, 0, 2])
    assert result.map_c == pytest.approx(100 * (5 / 6 + 1 / 3) / 2)
    assert result.map_o == pytest.approx(100 * (5 / 6 * 2 + 1 / 3 * 1) / 3)
    # all 11 annotated pairs pooled: positives at ranks 1, {3,4}, 6, 8, 10 -> (1 + 2/4 + 3/6 + 4/8 + 5/10) / 5
    assert result.micro_ap == pytest.approx(60.0)


def test_sklearn_evaluator_hand_worked(hand_scores):
    result = evaluate(hand_scores, HAND_LABELS, evaluator="sklearn")
    np.testing.assert_allclose(result.per_class_ap[[0, 1, 3, 4]], [5 / 6, 1 / 3, 0.0, 1.0], rtol=1e-12)
    assert result.excluded == {2: NO_ANNOTATED}
    assert result.map_c == pytest.approx(100 * (5 / 6 + 1 / 3 + 0 + 1) / 4)
    assert result.map_o == pytest.approx(100 * (5 / 6 * 2 + 1 / 3 + 1 * 2) / 5)
    assert result.micro_ap == pytest.approx(60.0)


def test_full_evaluator_counts_unannotated_as_negative(hand_scores):
    result = evaluate(hand_scores, HAND_LABELS, evaluator="full")
    # class 0: 0.95 n | 0.9 P | 0.8 {N, P} -> (1/2 + 2/4) / 2; class 1: 0.7, 0.5, 0.3 n, 0.2 P -> 1/4;
    # class 4: 0.9 n | 0.6 P | 0.4 P | 0.1 n -> (1/2 + 2/3) / 2; classes 2 and 3 have no positive -> 0
    np.testing.assert_allclose(result.per_class_ap, [0.5, 0.25, 0.0, 0.0, 7 / 12], rtol=1e-12)
    assert result.excluded == {} and result.map_c == pytest.approx(100 * 4 / 15)
    assert result.map_o == pytest.approx(100 * (0.5 * 2 + 0.25 + 7 / 12 * 2) / 5)
    flat = np.asarray(hand_scores).ravel()
    assert result.micro_ap == pytest.approx(100 * average_precision_score(HAND_LABELS.ravel() == P, flat))


def test_group_map_averages_valid_classes_of_each_group(hand_scores):
    groups = {"first": [0, 1], "excluded": [2, 3], "mixed": [0, 4, 4]}
    result = evaluate(hand_scores, HAND_LABELS, class_groups=groups)
    assert result.group_map["first"] == pytest.approx(100 * 7 / 12)
    assert np.isnan(result.group_map["excluded"])
    assert result.group_map["mixed"] == pytest.approx(100 * 5 / 6)
    with pytest.raises(ValueError, match=r"class_groups\['rare'\]: class index 5 out of range for 5 classes"):
        evaluate(hand_scores, HAND_LABELS, class_groups={"rare": [1, 5]})
    with pytest.raises(ValueError, match=r"class_groups\['rare'\]: expected integer class indices"):
        evaluate(hand_scores, HAND_LABELS, class_groups={"rare": ["person"]})


def test_to_dict_is_json_safe(hand_scores):
    result = evaluate(hand_scores, HAND_LABELS, class_groups={"excluded": [2]})
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["evaluator"] == "partial" and data["per_class_ap"][2] is None
    assert data["excluded"] == {"2": NO_ANNOTATED, "3": NO_POSITIVE, "4": NO_NEGATIVE}
    assert data["group_map"] == {"excluded": None} and data["num_valid_classes"] == 2


def _random_partial(seed, n=300, c=25, levels=7):
    rng = np.random.default_rng(seed)
    labels = rng.choice([P, N, U], size=(n, c), p=[0.2, 0.4, 0.4]).astype(np.int8)
    labels[:, 0] = U
    labels[:, 1] = np.where(labels[:, 1] == P, N, labels[:, 1])
    labels[:, 2] = np.where(labels[:, 2] == N, P, labels[:, 2])
    scores = (rng.integers(0, levels, (n, c)) / levels).astype(np.float32)
    return scores, labels


def test_partial_matches_a_per_class_sklearn_loop_on_tied_scores():
    scores, labels = _random_partial(11)
    result = evaluate(scores, labels)
    expected, weights = [], []
    for c in range(labels.shape[1]):
        annotated = labels[:, c] != U
        y = labels[annotated, c] == P
        if y.any() and not y.all():
            expected.append(average_precision_score(y, scores[annotated, c]))
            weights.append(y.sum())
            assert result.per_class_ap[c] == pytest.approx(expected[-1], rel=1e-12)
    assert result.excluded == {0: NO_ANNOTATED, 1: NO_POSITIVE, 2: NO_NEGATIVE}
    assert result.map_c == pytest.approx(100 * np.mean(expected), rel=1e-12)
    assert result.map_o == pytest.approx(100 * np.average(expected, weights=weights), rel=1e-12)
    annotated = labels != U
    micro = average_precision_score(labels[annotated] == P, scores[annotated])
    assert result.micro_ap == pytest.approx(100 * micro, rel=1e-12)


def test_sklearn_evaluator_matches_cole_compute_metrics_on_full_labels():
    rng = np.random.default_rng(12)
    labels = np.where(rng.random((200, 15)) < 0.3, P, N).astype(np.int8)
    labels[:, 4] = N
    scores = np.round(rng.random((200, 15)), 2)
    per_class = [
        average_precision_score(labels[:, c] == P, scores[:, c]) if (labels[:, c] == P).any() else 0.0
        for c in range(15)
    ]
    result = evaluate(scores, labels, evaluator="sklearn")
    assert result.map_c == pytest.approx(100 * np.mean(per_class), rel=1e-12)


def _reference_full_map(scores, labels):
    """The CSL/ASL ``mAP`` formula: argsort descending, precision at each positive, / (n_pos + 1e-8)."""
    aps = []
    for c in range(labels.shape[1]):
        order = np.argsort(-scores[:, c])
        hit = labels[order, c] == P
        precision_at = np.cumsum(hit) / np.arange(1, hit.size + 1)
        aps.append(precision_at[hit].sum() / (hit.sum() + 1e-8))
    return 100 * np.mean(aps)


def test_full_matches_the_reference_formula_on_tie_free_scores():
    rng = np.random.default_rng(13)
    labels = rng.choice([P, N, U], size=(400, 12), p=[0.2, 0.6, 0.2]).astype(np.int8)
    labels[:, 3] = N
    scores = rng.permutation(400 * 12).reshape(400, 12) / (400 * 12)
    ours = evaluate(scores, labels, evaluator="full").map_c
    assert ours == pytest.approx(_reference_full_map(scores, labels), rel=1e-7)


@pytest.mark.parametrize("evaluator", ["partial", "sklearn", "full"])
def test_sparse_labels_give_exactly_the_dense_result(evaluator):
    scores, labels = _random_partial(14)
    sparse = to_sparse(labels)
    dense_result = evaluate(scores, labels, evaluator=evaluator)
    inputs = [scores] if evaluator == "full" else [scores, entry_scores(scores, sparse)]
    for score_input in inputs:
        sparse_result = evaluate(score_input, sparse, evaluator=evaluator)
        np.testing.assert_array_equal(sparse_result.per_class_ap, dense_result.per_class_ap)
        assert sparse_result.to_dict() == dense_result.to_dict()


def test_explicit_zeros_in_sparse_data_are_unannotated():
    scores, labels = _random_partial(15, n=60, c=6)
    sparse = to_sparse(labels)
    rows, cols = np.nonzero(labels == U)
    with_zeros = sp.csr_array(
        (np.concatenate([sparse.data, np.zeros(rows.size, np.int8)]),
         (np.concatenate([np.repeat(np.arange(60), np.diff(sparse.indptr)), rows]),
          np.concatenate([sparse.indices, cols]))),
        shape=labels.shape,
    )
    with_zeros.sort_indices()
    assert with_zeros.nnz == 60 * 6 > sparse.nnz
    result = evaluate(entry_scores(scores, with_zeros), with_zeros)
    assert result.to_dict() == evaluate(scores, labels).to_dict()


def test_results_are_deterministic_and_invariant_to_image_order():
    scores, labels = _random_partial(16)
    perm = np.random.default_rng(0).permutation(labels.shape[0])
    first = evaluate(scores, labels).to_dict()
    assert evaluate(scores, labels).to_dict() == first
    assert evaluate(scores[perm], labels[perm]).to_dict() == first


def test_sparse_memory_follows_annotated_entries_not_images_x_classes():
    rng = np.random.default_rng(17)
    num_images, num_classes, entries = 200_000, 50_000, 20_000  # 1e10 pairs, 2e4 annotated
    flat = np.unique(rng.integers(0, num_images * num_classes, entries))
    rows, cols = np.divmod(flat, num_classes)
    values = np.where(rng.random(flat.size) < 0.4, P, N).astype(np.int8)
    labels = sp.csr_array((values, (rows, cols)), shape=(num_images, num_classes))
    scores = rng.random(labels.nnz).astype(np.float32)
    tracemalloc.start()
    result = evaluate(scores, labels)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.exclusion_counts[NO_ANNOTATED] > 0
    assert peak < 20 * 2**20


ONE_HOT = to_sparse(np.eye(4, 2, dtype=np.int8))
BAD_INPUTS = {
    "shape mismatch": (np.zeros((4, 3)), np.zeros((4, 2), np.int8), "partial",
                       r"scores: shape \(4, 3\) does not match labels shape \(4, 2\)"),
    "1-D scores, dense labels": (np.zeros(3), np.zeros((4, 2), np.int8), "partial", "1-D scores need sparse"),
    "1-D scores, wrong length": (np.zeros(3), ONE_HOT, "partial",
                                 "3 values, but 1-D scores need one per stored label entry"),
    "full with 1-D scores": (np.zeros(2), ONE_HOT, "full", "needs dense"),
    "NaN and inf, dense": (np.array([[0.1, np.nan], [np.inf, 0.2]]), np.ones((2, 2), np.int8), "partial",
                           "scores: 2 non-finite value.*first at row 0, column 1"),
    "NaN, 1-D": (np.array([0.1, np.nan]), to_sparse(np.eye(2, dtype=np.int8)), "partial",
                 r"first at entry 1 \(row 1, column 1\)"),
    "strings": (np.array([["a"]]), np.ones((1, 1), np.int8), "partial", "expected real numbers"),
    "label value 2": (np.zeros((2, 2)), np.full((2, 2), 2, np.int8), "partial", "labels: 4 label value"),
    "unknown evaluator": (np.zeros((2, 2)), np.ones((2, 2), np.int8), "mean",
                          "evaluator: unknown 'mean'; choose one of partial, full, sklearn"),
}


@pytest.mark.parametrize(("scores", "labels", "evaluator", "message"), BAD_INPUTS.values(), ids=BAD_INPUTS)
def test_bad_input_gets_a_one_line_error(scores, labels, evaluator, message):
    with pytest.raises(ValueError, match=message) as info:
        evaluate(scores, labels, evaluator=evaluator)
    assert "\n" not in str(info.value)


def test_non_canonical_sparse_labels_are_rejected():
    labels = sp.csr_array((np.array([1, -1], np.int8), np.array([1, 0]), np.array([0, 2])), shape=(1, 2))
    with pytest.raises(ValueError, match="canonical CSR"):
        evaluate(np.array([0.3, 0.2]), labels)
