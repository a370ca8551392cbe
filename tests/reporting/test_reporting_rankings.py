"""The bootstrap's rankings (bench.reporting.rankings): packed-key sorting, integer counts in int32
or int64 giving the same replicates, and the replicates used at large entry counts
(bench.reporting.replicates.replicates_for): a capped prefix of the same seeded sequence."""
from __future__ import annotations

import numpy as np
import pytest
from test_reporting_factory import Loader, add_run, make_test_set

from bench.labels.encoding import canonical_csr
from bench.metrics.ranking import descending_score_key
from bench.reporting import ReportOptions, assemble, rankings
from bench.reporting import replicates as cache_module
from bench.reporting.bootstrap import LabelledTestSet, PairedBootstrap
from bench.reporting.replicates import ENTRY_RESAMPLES, MIN_REPLICATES, ReplicateCache, replicates_for
from bench.store import Store

STATS = ["map_c", "map_o", "micro_ap"]


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(3)
    labels = rng.choice(np.array([-1, 0, 1], dtype=np.int8), size=(150, 9), p=[0.5, 0.3, 0.2])
    csr = canonical_csr(labels)
    scores = np.round(rng.random(csr.nnz), 2).astype(np.float32)  # ties
    return LabelledTestSet(labels, [f"c{i}" for i in range(9)]), csr, scores


def test_packed_sort_orders_by_ranking_then_descending_score(case):
    _, csr, scores = case
    classes = csr.indices.astype(np.int64)
    key, bits = descending_score_key(scores)
    order = rankings.sorted_order(rankings.RankingLayout.of(classes, 9), key, bits)
    assert sorted(order.tolist()) == list(range(csr.nnz))
    pairs = list(zip(classes[order].tolist(), key[order].tolist()))
    assert pairs == sorted(pairs)


def test_int64_counts_give_the_same_replicates(case, monkeypatch):
    test, _, scores = case
    narrow = PairedBootstrap(test, n_boot=12, seed=4).evaluate(scores, STATS)
    monkeypatch.setattr(rankings, "INT32_LIMIT", 1)
    wide = PairedBootstrap(test, n_boot=12, seed=4).evaluate(scores, STATS)
    assert narrow[0] == wide[0]
    for stat in STATS:
        np.testing.assert_array_equal(narrow[1][stat], wide[1][stat])


def test_point_and_replicates_from_one_sort_equal_the_separate_calls(case):
    test, _, scores = case
    boot = PairedBootstrap(test, n_boot=9, seed=1)
    point, reps = boot.evaluate(scores, STATS)
    assert point == boot.point(scores, STATS)
    for stat in STATS:
        np.testing.assert_array_equal(reps[stat], boot.replicates(scores, STATS)[stat])


def test_replicates_are_capped_at_large_entry_counts():
    assert replicates_for(1000, 3_000) == 1000
    assert replicates_for(1000, 12_098_010) == ENTRY_RESAMPLES // 12_098_010
    assert replicates_for(1000, 10 ** 12) == MIN_REPLICATES
    assert replicates_for(50, 10 ** 12) == 50


def test_capped_replicates_are_a_prefix_of_the_same_sequence(case, monkeypatch):
    test, csr, scores = case
    full = PairedBootstrap(test, n_boot=30, seed=0).replicates(scores, ["map_c"])["map_c"]
    monkeypatch.setattr("bench.reporting.replicates.ENTRY_RESAMPLES", 10 * csr.nnz)
    monkeypatch.setattr("bench.reporting.replicates.MIN_REPLICATES", 5)
    cache = ReplicateCache(None, n_boot=30)
    cache.register("t", cache_module.TestSetInfo.of(test), lambda: test)
    assert cache.n_boot_for("t") == 10
    entry = cache.entries([("t", scores, ["map_c"])])[0]
    np.testing.assert_array_equal(entry["map_c"][1], full[:10])


def test_the_footnote_states_the_replicates_used_when_capped(tmp_path, monkeypatch):
    labels = make_test_set(100, ["a", "b", "c", "d"], seed=2)
    store = Store(tmp_path / "s.db")
    for seed in (0, 1, 2):
        add_run(store, labels, "strong", "scene+rpa[p=0.5]", seed, 2.5, index=seed)
        add_run(store, labels, "weak", "scene+rpa[p=0.5]", seed, 0.0, index=10 + seed)
    entries = canonical_csr(labels.labels).nnz
    monkeypatch.setattr("bench.reporting.replicates.ENTRY_RESAMPLES", 40 * entries)
    monkeypatch.setattr("bench.reporting.replicates.MIN_REPLICATES", 30)
    records = [r for r in store.runs(status="done") if r.metrics]
    report = assemble(records, ReportOptions(n_boot=200, figures=False, test_sets=Loader({"scene": labels})))
    notes = [n for t in report.tables for n in t.footnotes if "hierarchical bootstrap" in n]
    assert notes and all(f"(40 resamples, fewer than the 200 asked: at {entries:,} annotated test entries" in n
                         for n in notes)
