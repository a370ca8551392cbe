"""End to end on real runs: `scene` trained by the runner, reported with test labels loaded through the
dataset plugin, so the hierarchical bootstrap works on the scores the runner stored, and its
replicates are cached in the store."""
from __future__ import annotations

import re

from bench.reporting import build_report
from bench.reporting.replicates import cache_key, labels_digest
from bench.reporting.testsets import DatasetTestSets
from bench.runs.config import RunConfig
from bench.runs.execute import execute
from bench.runs.recipe import Recipe
from bench.store import Store


def test_report_of_real_scene_runs(tmp_path):
    store = Store(tmp_path / "bench.db")
    for method in ("negative", "ignore"):
        for seed in (0, 1, 2):
            execute(RunConfig(method=method, dataset="scene+rpa[p=0.5]", seed=seed, recipe=Recipe(epochs=2)),
                    store, progress=False)
    text = build_report(store, n_boot=200)
    assert "## scene · rpa[p=0.5] · linear, 2 epochs\n" in text
    assert re.search(r"\| negative \| \**\d+\.\d\d ± \d+\.\d\d \(n=3\)", text)
    assert "then the 1196 test images (200 resamples" in text  # scores reproduce the records
    runs = store.runs(status="done")
    assert len(store.bootstrap_replicates([k for k in _keys(store, runs)])) == len(runs) == 6
    assert build_report(store, n_boot=200) == text  # now from the cache
    assert build_report(store, datasets=["voc2007"], n_boot=200).count("## ") == 0
    plain = build_report(store, datasets=["scene"], significance="off")
    assert "## scene · rpa[p=0.5] · linear, 2 epochs\n" in plain and "≈" not in plain and "**" in plain  # bold, no test


def _keys(store, runs):
    loader = DatasetTestSets()
    for record in runs:
        digest = labels_digest(loader(record)[1])
        yield cache_key(digest, record.test_scores(), 200, 0)
