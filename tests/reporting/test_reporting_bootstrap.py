"""The paired bootstrap (bench.reporting.bootstrap) against sklearn and bench.metrics, and the tests
of bench.reporting.significance against scipy and hand-worked cases."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ttest_rel
from sklearn.metrics import average_precision_score

from bench.labels.encoding import canonical_csr
from bench.metrics import evaluate
from bench.reporting.bootstrap import LabelledTestSet, PairedBootstrap
from bench.reporting.significance import seed_ttest_p

STATS = ["map_c", "map_o", "micro_ap", "group:A", "group:B", "class:c3", "class:c6"]


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(0)
    labels = rng.choice(np.array([-1, 0, 1], dtype=np.int8), size=(90, 7), p=[0.5, 0.3, 0.2])
    labels[:, 6] = 0
    labels[:4, 6] = 1  # class 6: positives only -> excluded
    dense = np.round(rng.random(labels.shape), 1).astype(np.float32)  # many ties
    csr = canonical_csr(labels)
    scores = dense[np.repeat(np.arange(90), np.diff(csr.indptr)), csr.indices]
    test = LabelledTestSet(labels, [f"c{i}" for i in range(7)], {"A": [0, 1], "B": [2, 6]})
    return labels, dense, scores, test


def test_unit_weights_equal_bench_metrics(case):
    labels, _, scores, test = case
    point = PairedBootstrap(test).point(scores, STATS)
    result = evaluate(scores, canonical_csr(labels), class_groups=test.class_groups)
    assert point["map_c"] == pytest.approx(result.map_c, abs=1e-10)
    assert point["map_o"] == pytest.approx(result.map_o, abs=1e-10)
    assert point["micro_ap"] == pytest.approx(result.micro_ap, abs=1e-10)
    assert point["group:A"] == pytest.approx(result.group_map["A"], abs=1e-10)
    assert point["class:c3"] == pytest.approx(100 * result.per_class_ap[3], abs=1e-10)
    assert np.isnan(point["class:c6"])


def test_replicates_equal_sklearn_with_sample_weights(case):
    labels, dense, scores, test = case
    boot = PairedBootstrap(test, n_boot=7, seed=3, block_elements=1500)  # several blocks
    reps = boot.replicates(scores, STATS)
    weights = np.concatenate(list(boot.weight_blocks()))
    assert weights.shape == (7, 90) and (weights.sum(axis=1) == 90).all()
    for b in range(7):
        w = weights[b]
        aps, npos = [], []
        for c in range(7):
            known = labels[:, c] != 0
            y, ww = labels[known, c] == 1, w[known]
            valid = ww[y].sum() > 0 and ww[~y].sum() > 0
            aps.append(average_precision_score(y, dense[known, c], sample_weight=ww) if valid else np.nan)
            npos.append(ww[y].sum())
        aps, npos = np.array(aps), np.array(npos, dtype=float)
        ok = ~np.isnan(aps)
        assert reps["map_c"][b] == pytest.approx(100 * aps[ok].mean(), abs=1e-9)
        assert reps["map_o"][b] == pytest.approx(100 * (aps[ok] * npos[ok]).sum() / npos[ok].sum(), abs=1e-9)
        assert reps["group:B"][b] == pytest.approx(100 * aps[2], abs=1e-9)  # class 6 is never valid
        known = labels != 0
        image_weight = np.broadcast_to(w[:, None], labels.shape)[known]
        pooled = average_precision_score(labels[known] == 1, dense[known], sample_weight=image_weight)
        assert reps["micro_ap"][b] == pytest.approx(100 * pooled, abs=1e-9)


def test_replicates_are_seeded_and_paired(case):
    _, _, scores, test = case
    a = PairedBootstrap(test, n_boot=50, seed=1).replicates(scores, ["map_c"])["map_c"]
    b = PairedBootstrap(test, n_boot=50, seed=1, block_elements=100).replicates(scores, ["map_c"])["map_c"]
    c = PairedBootstrap(test, n_boot=50, seed=2).replicates(scores, ["map_c"])["map_c"]
    np.testing.assert_array_equal(a, b)  # same resamples whatever the block size
    assert not np.array_equal(a, c)
    kept = PairedBootstrap(test, n_boot=50, seed=1)
    assert kept._keep and not PairedBootstrap(test, n_boot=50, seed=1, keep_weights=10)._keep
    for _ in range(2):  # the second call reuses the kept weights
        np.testing.assert_array_equal(kept.replicates(scores, ["map_c"])["map_c"], a)


def test_paired_replicates_separate_a_clearly_better_run():
    labels = np.where(np.random.default_rng(5).random((400, 5)) < 0.3, 1, -1).astype(np.int8)
    csr = canonical_csr(labels)
    rng = np.random.default_rng(6)
    noise = rng.normal(size=csr.data.size)
    good, bad = (2.0 * (csr.data == 1) + noise).astype(np.float32), (0.2 * (csr.data == 1) + noise).astype(np.float32)
    boot = PairedBootstrap(LabelledTestSet(labels, list("abcde")), n_boot=300)
    diff = boot.replicates(good, ["map_c"])["map_c"] - boot.replicates(bad, ["map_c"])["map_c"]
    assert (diff > 0).all()


def test_score_length_is_checked(case):
    _, _, scores, test = case
    with pytest.raises(ValueError, match="annotated entries"):
        PairedBootstrap(test).point(scores[:-1], ["map_c"])


def test_no_annotated_entries_gives_nan():
    test = LabelledTestSet(np.zeros((4, 2), dtype=np.int8), ["a", "b"])
    assert np.isnan(PairedBootstrap(test).point(np.zeros(0, np.float32), ["map_c"])["map_c"])


def test_seed_ttest_matches_scipy_and_edge_cases():
    best = {(0, 0): 70.0, (1, 0): 72.0, (2, 0): 71.0, (3, 0): 69.0}
    other = {(0, 0): 69.0, (1, 0): 71.5, (2, 0): 68.0, (4, 0): 50.0}
    common = [(0, 0), (1, 0), (2, 0)]
    expected = ttest_rel([best[k] for k in common], [other[k] for k in common]).pvalue
    assert seed_ttest_p(best, other) == pytest.approx(expected)
    assert seed_ttest_p(best, {(0, 0): 1.0, (1, 0): 2.0, (9, 0): 2.0}) is None  # two common pairs: below 3
    assert seed_ttest_p(best, dict(best)) == 1.0
    assert seed_ttest_p(best, {k: v - 1.0 for k, v in best.items()}) == 0.0
