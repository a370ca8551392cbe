"""AP with sklearn tie grouping: bench.metrics.ranking against sklearn and hand-worked rankings."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from bench.metrics import average_precision, grouped_average_precision
from bench.metrics.ranking import descending_score_key


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int64, np.int8, np.uint16, bool])
def test_average_precision_matches_sklearn_with_many_ties(dtype):
    rng = np.random.default_rng(7)
    for _ in range(150):
        n = int(rng.integers(1, 80))
        scores = rng.integers(-4, 5, n).astype(dtype)
        positive = rng.random(n) < rng.uniform(0.05, 0.95)
        if not positive.any():
            continue
        assert average_precision(scores, positive) == pytest.approx(
            average_precision_score(positive, scores), rel=1e-12, abs=1e-12
        )


def test_average_precision_matches_sklearn_on_float64_not_float32_exact():
    rng = np.random.default_rng(8)
    scores = np.round(rng.random(5000), 3) + 1e-12 * rng.integers(0, 2, 5000)
    positive = rng.random(5000) < 0.3
    assert average_precision(scores, positive) == pytest.approx(
        average_precision_score(positive, scores), rel=1e-12
    )


def test_hand_worked_tie_group_shares_the_precision_at_its_end():
    # ranking: 0.9 P | 0.8 N, 0.8 P  ->  (1 * 1 + 1 * 2/3) / 2
    assert average_precision([0.9, 0.8, 0.8], [True, False, True]) == pytest.approx(5 / 6, abs=1e-15)
    # breaking that tie in the positive's favour (as an unstable argsort may) gives 1 instead
    assert average_precision([0.9, 0.81, 0.8], [True, True, False]) == pytest.approx(1.0, abs=1e-15)
    # a single all-tied group: precision = prevalence
    assert average_precision([1, 1, 1, 1], [True, False, False, True]) == pytest.approx(0.5, abs=1e-15)


def test_negative_zero_ties_with_zero_and_no_positive_gives_nan():
    assert average_precision(np.array([-0.0, 0.0], np.float32), [True, False]) == pytest.approx(0.5)
    assert average_precision(np.array([-0.0, 0.0]), [False, True]) == pytest.approx(0.5)
    assert np.isnan(average_precision([0.3, 0.1], [False, False]))


def test_descending_key_orders_scores_and_maps_ties_to_equal_keys():
    values = np.array([-np.inf, -3.5, -0.0, 0.0, 1e-30, 2.0, 2.0, np.finfo(np.float32).max], np.float32)
    key, bits = descending_score_key(values)
    assert bits == 32
    assert np.all(np.diff(key.astype(np.float64)) <= 0)
    assert key[2] == key[3] and key[5] == key[6]
    assert np.unique(key).size == values.size - 2


def test_grouped_ap_equals_one_sklearn_call_per_group():
    rng = np.random.default_rng(3)
    groups = rng.integers(0, 40, 6000)
    scores = np.round(rng.random(6000), 2).astype(np.float32)
    positive = rng.random(6000) < 0.3
    positive[groups == 5] = False
    ap, n_pos, n_entries = grouped_average_precision(groups, scores, positive, 42)
    for g in range(42):
        member = groups == g
        assert n_entries[g] == member.sum() and n_pos[g] == positive[member].sum()
        if n_pos[g] == 0:
            assert np.isnan(ap[g])
        else:
            expected = average_precision_score(positive[member], scores[member])
            assert ap[g] == pytest.approx(expected, rel=1e-12)


def test_grouped_ap_does_not_depend_on_entry_order():
    rng = np.random.default_rng(4)
    groups, scores = rng.integers(0, 9, 500), rng.integers(0, 6, 500).astype(np.float64)
    positive = rng.random(500) < 0.5
    perm = rng.permutation(500)
    first = grouped_average_precision(groups, scores, positive, 9)
    again = grouped_average_precision(groups[perm], scores[perm], positive[perm], 9)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_average_precision_rejects_bad_input():
    with pytest.raises(ValueError, match="3 values but 2 targets"):
        average_precision([0.1, 0.2, 0.3], [True, False])
    with pytest.raises(ValueError, match="finite"):
        average_precision([0.1, np.nan], [True, False])
