"""End to end on real runs: `scene` trained by the runner, reported with test labels loaded through the
dataset plugin, so the paired bootstrap works on the scores the runner stored."""
from __future__ import annotations

import re

from bench.reporting import build_report
from bench.runs.config import RunConfig
from bench.runs.execute import execute
from bench.runs.recipe import Recipe
from bench.store import Store


def test_report_of_real_scene_runs(tmp_path):
    store = Store(tmp_path / "bench.db")
    for method in ("negative", "ignore"):
        for seed in (0, 1):
            execute(RunConfig(method=method, dataset="scene+rpa[p=0.5]", seed=seed, recipe=Recipe(epochs=2)),
                    store, progress=False)
    text = build_report(store, n_boot=200)
    assert "## scene+rpa[p=0.5]" in text
    assert re.search(r"\| negative \| \**\d+\.\d\d ± \d+\.\d\d \(n=2\)", text)
    assert "paired bootstrap over the 1196 test images (200 resamples" in text  # scores reproduce the records
    assert build_report(store, datasets=["voc2007"], n_boot=200).count("## ") == 0
    plain = build_report(store, datasets=["scene"], significance="off")
    assert "## scene+rpa[p=0.5]" in plain and "≈" not in plain and "**" in plain  # best still bold, no test
