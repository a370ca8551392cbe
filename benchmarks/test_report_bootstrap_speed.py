"""Speed and memory of the report's paired bootstrap (bench.reporting.bootstrap) at COCO-test scale.

Run with ``pytest benchmarks --benchmark-only -s``. Data: 40,137 images x 80 classes, fully labelled
(~29% positives), float32 scores rounded to 3 decimals (ties). Both sides compute mAP(C) on the same
bootstrap replicates; the baseline is the well-kept library way: for every replicate and class,
``sklearn.metrics.average_precision_score(y, s, sample_weight=w)``. They must agree to 1e-9. The
ratio is measured in the same run; peak memory is tracemalloc's peak during our replicates.
"""
from __future__ import annotations

import tracemalloc
from time import perf_counter

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from bench.labels.encoding import canonical_csr
from bench.reporting.bootstrap import LabelledTestSet, PairedBootstrap

NUM_IMAGES, NUM_CLASSES, N_BOOT = 40_137, 80, 20
MIN_SPEEDUP = 10.0


@pytest.fixture(scope="module")
def coco_scale():
    rng = np.random.default_rng(7)
    labels = np.where(rng.random((NUM_IMAGES, NUM_CLASSES)) < 0.29, 1, -1).astype(np.int8)
    dense = np.round(rng.random(labels.shape) + 0.8 * (labels == 1), 3).astype(np.float32)
    csr = canonical_csr(labels)
    scores = dense[np.repeat(np.arange(NUM_IMAGES), np.diff(csr.indptr)), csr.indices]
    return labels, dense, scores


def sklearn_replicates(labels: np.ndarray, dense: np.ndarray, weights: np.ndarray) -> np.ndarray:
    out = []
    for w in weights:
        aps = [average_precision_score(labels[:, c] == 1, dense[:, c], sample_weight=w) for c in range(NUM_CLASSES)]
        out.append(100.0 * np.mean(aps))
    return np.array(out)


def test_bootstrap_is_faster_than_a_sklearn_loop(benchmark, coco_scale, capsys):
    labels, dense, scores = coco_scale
    boot = PairedBootstrap(LabelledTestSet(labels, [str(c) for c in range(NUM_CLASSES)]), n_boot=N_BOOT, seed=0)
    ours_times: list[float] = []

    def ours():
        start = perf_counter()
        result = boot.replicates(scores, ["map_c"])["map_c"]
        ours_times.append(perf_counter() - start)
        return result

    replicates = benchmark.pedantic(ours, rounds=3, iterations=1)
    weights = np.concatenate(list(boot.weight_blocks()))
    start = perf_counter()
    expected = sklearn_replicates(labels, dense, weights)
    baseline = perf_counter() - start
    np.testing.assert_allclose(replicates, expected, rtol=0, atol=1e-9)

    tracemalloc.start()
    boot.replicates(scores, ["map_c"])
    peak_mib = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    speedup = baseline / min(ours_times)
    with capsys.disabled():
        print(f"\npaired bootstrap, {N_BOOT} replicates of {NUM_IMAGES} x {NUM_CLASSES}: ours {min(ours_times):.2f} s, "
              f"sklearn loop {baseline:.2f} s, speed-up {speedup:.1f}x, peak {peak_mib:.0f} MiB")
    assert speedup >= MIN_SPEEDUP
