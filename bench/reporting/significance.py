"""Is a row statistically distinguishable from the best row of its column?

Two tests, both two-sided at level ``alpha`` (default 0.05), both paired:

* ``bootstrap`` (preferred; needs every run's per-entry test scores): the statistic of each row is
  its seed-mean metric on each bootstrap replicate of the test images (the same replicates for
  every run, ``bench.reporting.bootstrap``); with d_b = best_b - other_b (signed so larger is better),
  p = min(1, 2 * min(P(d <= 0), P(d >= 0))) over the replicates where both are defined.
* ``ttest_rel`` (fallback when test scores are not kept): ``scipy.stats.ttest_rel`` on the two rows'
  per-seed values paired by (seed, split_seed); needs at least two common seeds. Identical values
  give p = 1; a constant non-zero difference gives p = 0.

A row is marked "indistinguishable from the best" when p >= alpha.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.stats import ttest_rel

ALPHA = 0.05
BOOTSTRAP = "bootstrap"
SEED_TTEST = "ttest_rel"
UNTESTED = "untested"


def bootstrap_p(best: np.ndarray, other: np.ndarray, sign: float = 1.0) -> float | None:
    """Two-sided paired-bootstrap p-value of ``best`` vs ``other`` replicate statistics (None when
    no replicate defines both); ``sign`` = -1 for metrics where smaller is better."""
    diff = sign * (np.asarray(best, dtype=np.float64) - np.asarray(other, dtype=np.float64))
    diff = diff[np.isfinite(diff)]
    if diff.size == 0:
        return None
    return float(min(1.0, 2.0 * min(np.mean(diff <= 0), np.mean(diff >= 0))))


def seed_ttest_p(best: Mapping[tuple, float], other: Mapping[tuple, float]) -> float | None:
    """Two-sided ``ttest_rel`` p-value over the seeds both rows ran (None with fewer than two)."""
    common = sorted(set(best) & set(other))
    if len(common) < 2:
        return None
    a = np.array([best[s] for s in common], dtype=np.float64)
    b = np.array([other[s] for s in common], dtype=np.float64)
    diff = a - b
    if np.all(diff == diff[0]):
        return 1.0 if diff[0] == 0 else 0.0
    return float(ttest_rel(a, b).pvalue)
