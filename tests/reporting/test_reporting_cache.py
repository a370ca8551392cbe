"""The bootstrap-replicate cache (bench.reporting.replicates, ``Store.bootstrap_replicates``): computed
once per (run scores, test labels, settings), never changing a number, recomputed when any input changes."""
from __future__ import annotations

import numpy as np
import pytest
from test_reporting_factory import Loader, add_run, make_test_set, paper_scenario

from bench.reporting import build_report
from bench.reporting.bootstrap import PairedBootstrap
from bench.reporting.replicates import ReplicateCache, cache_key, labels_digest
from bench.store import Store, StoreError

STATS = ["map_c", "map_o"]


@pytest.fixture(scope="module")
def labels():
    return make_test_set(120, ["a", "b", "c", "d"], unannotated=0.2, seed=5)


def _jobs(store, labels, count):
    runs = [add_run(store, labels, f"m{i % 4}", "scene+rpa[p=0.5]", i // 4, 0.5 + 0.1 * i, index=i)
            for i in range(count)]
    return runs, [("scene", r.test_scores(), STATS) for r in runs]


def _cache(store, labels, **kwargs):
    cache = ReplicateCache(store, n_boot=60, **kwargs)
    cache.bootstrap("scene", labels)
    return cache


def test_cached_entries_equal_a_fresh_computation(tmp_path, labels):
    store = Store(tmp_path / "s.db")
    runs, jobs = _jobs(store, labels, 5)
    cold = _cache(store, labels)
    first = cold.entries(jobs)
    assert cold.computed == 5
    warm = _cache(store, labels)
    second = warm.entries(jobs)
    assert warm.computed == 0  # all from the store
    boot = PairedBootstrap(labels, n_boot=60)
    for record, a, b in zip(runs, first, second):
        expected = boot.replicates(record.test_scores(), STATS)
        point = boot.point(record.test_scores(), STATS)
        for stat in STATS:
            np.testing.assert_array_equal(a[stat][1], expected[stat])
            np.testing.assert_array_equal(b[stat][1], expected[stat])
            assert a[stat][0] == b[stat][0] == point[stat]


def test_more_statistics_are_added_to_an_entry(tmp_path, labels):
    store = Store(tmp_path / "s.db")
    _, jobs = _jobs(store, labels, 2)
    _cache(store, labels).entries([(t, s, ["map_c"]) for t, s, _ in jobs])
    cache = _cache(store, labels)
    entries = cache.entries([(t, s, ["map_c", "micro_ap"]) for t, s, _ in jobs])
    assert cache.computed == 2 and all(set(e) == {"map_c", "micro_ap"} for e in entries)
    assert _cache(store, labels).entries(jobs)[0].keys() >= {"map_c", "micro_ap", "map_o"}


def test_any_changed_input_changes_the_key(labels):
    scores = np.arange(int((labels.labels != 0).sum()), dtype=np.float32)
    digest = labels_digest(labels)
    key = cache_key(digest, scores, 1000, 0)
    changed = scores.copy()
    changed[3] += 0.5
    flipped = labels.labels.copy()
    flipped[np.argwhere(flipped == 1)[0][0], np.argwhere(flipped == 1)[0][1]] = -1
    other_test = type(labels)(flipped, labels.class_names, labels.class_groups)
    renamed = type(labels)(labels.labels, ["z", *labels.class_names[1:]], labels.class_groups)
    grouped = type(labels)(labels.labels, labels.class_names, {"g": [0, 1]})
    others = [cache_key(digest, changed, 1000, 0), cache_key(digest, scores, 999, 0),
              cache_key(digest, scores, 1000, 1), cache_key(labels_digest(other_test), scores, 1000, 0),
              cache_key(labels_digest(renamed), scores, 1000, 0), cache_key(labels_digest(grouped), scores, 1000, 0)]
    assert len({key, *others}) == 7
    assert cache_key(labels_digest(type(labels)(labels.labels.copy(), list(labels.class_names))), scores.copy(),
                     1000, 0) == key  # the same content, the same key


def test_a_changed_run_recomputes(tmp_path, labels):
    store = Store(tmp_path / "s.db")
    _, jobs = _jobs(store, labels, 3)
    _cache(store, labels).entries(jobs)
    edited = [(t, s + np.float32(0.25) * (i == 1), stats) for i, (t, s, stats) in enumerate(jobs)]
    cache = _cache(store, labels)
    cache.entries(edited)
    assert cache.computed == 1


def test_worker_processes_give_the_same_numbers(tmp_path, labels):
    store = Store(tmp_path / "s.db")
    _, jobs = _jobs(store, labels, 20)
    parallel = ReplicateCache(None, n_boot=60, workers=2)
    parallel.bootstrap("scene", labels)
    serial = ReplicateCache(None, n_boot=60, workers=1)
    serial.bootstrap("scene", labels)
    for a, b in zip(parallel.entries(jobs), serial.entries(jobs)):
        for stat in STATS:
            np.testing.assert_array_equal(a[stat][1], b[stat][1])
            assert a[stat][0] == b[stat][0]


def test_reports_are_identical_cold_warm_and_uncached(tmp_path):
    store = Store(tmp_path / "s.db")
    loader = paper_scenario(store)
    options = {"test_sets": loader, "n_boot": 100}
    uncached = build_report(store, bootstrap_cache=False, **options)
    assert store.bootstrap_replicates([]) == {}
    cold = build_report(store, **options)
    warm = build_report(store, **options)
    assert uncached == cold == warm
    with store._connection() as conn:
        assert conn.execute("SELECT COUNT(DISTINCT key) FROM bootstrap_replicates").fetchone()[0] == 38


class _ReadOnly:
    """A store whose cache cannot be written."""

    def __init__(self, store):
        self.store = store

    def __getattr__(self, name):
        return getattr(self.store, name)

    def put_bootstrap_replicates(self, entries):
        raise StoreError(f"store {self.store.path}: attempt to write a readonly database")


def test_an_unwritable_store_still_reports(tmp_path, labels):
    store = Store(tmp_path / "s.db")
    for seed in (0, 1, 2):
        add_run(store, labels, "a", "scene+rpa[p=0.5]", seed, 2.0, index=seed)
        add_run(store, labels, "b", "scene+rpa[p=0.5]", seed, 1.0, index=10 + seed)
    text = build_report(_ReadOnly(store), test_sets=Loader({"scene": labels}), n_boot=60)
    assert "Bootstrap replicates not cached: store" in text and "readonly database" in text
    assert "hierarchical bootstrap" in text
