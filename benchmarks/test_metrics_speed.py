"""Speed and memory of bench.metrics.evaluate at OpenImages-V6-test scale (issue 2).

Run with ``pytest benchmarks --benchmark-only``. Goal: at least 20x faster than a dense per-class
loop (sort every class over all images), peak memory under 2 GB.

The dense baselines need N x C dense arrays (4.8 GB of float32 scores at full size) and about 10 ms
per class, so they run on every 100th class (96 classes) and their time is extrapolated linearly
to all 9,600 classes; they must give the same per-class APs as ours on those classes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from time import perf_counter

import numpy as np
import pytest
from synthetic_openimages import (
    NUM_CLASSES,
    dense_columns,
    dense_loop_ap,
    openimages_scale,
    sklearn_loop_ap,
)

from bench.metrics import evaluate

BASELINE_STRIDE = 100
MIN_SPEEDUP_VS_DENSE_LOOP = 20.0
MIN_SPEEDUP_VS_SKLEARN_LOOP = 5.0
MAX_PEAK_MIB = 2048.0


@pytest.fixture(scope="module")
def openimages():
    return openimages_scale()


def _extrapolated_seconds(loop, dense_scores, dense_labels) -> tuple[float, np.ndarray]:
    start = perf_counter()
    ap = loop(dense_scores, dense_labels)
    return (perf_counter() - start) * NUM_CLASSES / dense_scores.shape[1], ap


def test_evaluate_is_20x_faster_than_a_dense_per_class_loop(benchmark, openimages, capsys):
    scores, labels = openimages
    ours: list[float] = []

    def timed_evaluate():
        start = perf_counter()
        result = evaluate(scores, labels)
        ours.append(perf_counter() - start)
        return result

    result = benchmark.pedantic(timed_evaluate, rounds=3, iterations=1)
    columns = np.arange(0, NUM_CLASSES, BASELINE_STRIDE)
    dense_scores, dense_labels = dense_columns(scores, labels, columns)
    dense_s, dense_ap = _extrapolated_seconds(dense_loop_ap, dense_scores, dense_labels)
    sklearn_s, sklearn_ap = _extrapolated_seconds(sklearn_loop_ap, dense_scores, dense_labels)
    np.testing.assert_allclose(result.per_class_ap[columns], dense_ap, rtol=1e-12)
    np.testing.assert_allclose(result.per_class_ap[columns], sklearn_ap, rtol=1e-12)

    best = min(ours)
    figures = {
        "entries": int(labels.nnz),
        "ours_s": best,
        "dense_loop_s_extrapolated": dense_s,
        "sklearn_loop_s_extrapolated": sklearn_s,
        "speedup_vs_dense_loop": dense_s / best,
        "speedup_vs_sklearn_loop": sklearn_s / best,
        "map_c": result.map_c,
        "map_o": result.map_o,
        "micro_ap": result.micro_ap,
    }
    benchmark.extra_info.update(figures)
    with capsys.disabled():
        print("\nmetrics speed:", json.dumps(figures))
    assert figures["speedup_vs_dense_loop"] >= MIN_SPEEDUP_VS_DENSE_LOOP
    assert figures["speedup_vs_sklearn_loop"] >= MIN_SPEEDUP_VS_SKLEARN_LOOP


def _peak_memory_in_fresh_process() -> dict[str, float]:
    script = Path(__file__).with_name("synthetic_openimages.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout)


def test_evaluate_peak_memory_stays_under_2_gb(benchmark, capsys):
    memory = benchmark.pedantic(_peak_memory_in_fresh_process, rounds=1, iterations=1)
    benchmark.extra_info.update(memory)
    with capsys.disabled():
        print("\nmetrics memory:", json.dumps(memory))
    assert memory["evaluate_peak_mib"] < MAX_PEAK_MIB
