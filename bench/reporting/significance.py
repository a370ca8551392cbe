"""Is a row statistically distinguishable from the best row of its column?

The unit of a comparison is the (seed, split_seed) pair: the runs both rows ran with the same
training seed and split seed. Below ``MIN_PAIRS`` (3) matched pairs no test is made (no mark). Two
tests, both two-sided at level ``alpha`` (default 0.05), both paired:

* ``bootstrap`` (preferred; needs every run's per-entry test scores): a hierarchical bootstrap of
  the mean paired difference D = mean_k d_k, d_k = best_k - other_k over the n matched pairs
  (signed so larger is better), resampling pairs, then test images (``hierarchical_p``). The
  bootstrap gives the standard error of D with both sources of variance (seeds and test images);
  D / SE is referred to Student's t with Welch-Satterthwaite degrees of freedom (n - 1 when the
  seed variance dominates), because a percentile interval from 3 to 10 resampled seeds is far too
  narrow (a resample of 3 values never leaves their range).
* ``ttest_rel`` (fallback when test scores are not kept): ``scipy.stats.ttest_rel`` on the two rows'
  per-pair values. Identical values give p = 1; a constant non-zero difference gives p = 0.

The bootstrap test's Student's t comes from ``scipy.special.stdtr`` (what ``scipy.stats.t.sf``
evaluates, bit for bit): importing ``scipy.stats`` costs about a second, a third of a report on a
small store; only the fallback imports it.

A row is marked "indistinguishable from the best" when p >= alpha.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

ALPHA = 0.05
MIN_PAIRS = 3
BOOTSTRAP = "bootstrap"
SEED_TTEST = "ttest_rel"
UNTESTED = "untested"


def student_t_sf2(t: float, df: float) -> float:
    """Two-sided tail 2 * P(T > |t|) of Student's t with ``df`` degrees of freedom (``inf``: the
    normal), bitwise ``2 * scipy.stats.t.sf(|t|, df)``."""
    from scipy.special import stdtr

    return float(2.0 * stdtr(df, -abs(t)))


def matched_pairs(best: Mapping[tuple, object], other: Mapping[tuple, object]) -> list[tuple]:
    """The (seed, split_seed) pairs both rows ran, sorted."""
    return sorted(set(best) & set(other))


def seed_ttest_p(best: Mapping[tuple, float], other: Mapping[tuple, float]) -> float | None:
    """Two-sided ``ttest_rel`` p-value over the (seed, split_seed) pairs both rows ran (None with
    fewer than ``MIN_PAIRS``)."""
    common = matched_pairs(best, other)
    if len(common) < MIN_PAIRS:
        return None
    a = np.array([best[s] for s in common], dtype=np.float64)
    b = np.array([other[s] for s in common], dtype=np.float64)
    diff = a - b
    if np.all(diff == diff[0]):
        return 1.0 if diff[0] == 0 else 0.0
    from scipy.stats import ttest_rel  # scipy.stats costs a second to import: only for this fallback

    return float(ttest_rel(a, b).pvalue)


def hierarchical_p(points: np.ndarray, replicates: np.ndarray, sign: float = 1.0, seed: int = 0) -> float | None:
    """Two-sided p-value of the mean paired difference over n matched (seed, split_seed) pairs.

    ``points`` (n, 2): the best and the other row's recorded metric of each pair; ``replicates``
    (n, 2, B): the same on the B paired-bootstrap resamples of the test images (replicate b uses
    the same image weights for every run: the test images are one sample shared by every seed).
    With d_k = sign * (best_k - other_k) and d_kb its value on image resample b:

        D = mean_k d_k;   c_b = mean_k d_kb;   e_kb = c_b + sqrt(n / (n - 1)) * (d_kb - c_b)
        D*_b = mean_{j=1..n} e_{K_bj, b},   K_bj drawn uniformly from the n pairs (seeded by ``seed``)
        SE^2 = var(D*_b) = V_seeds + V_images,   V_images = var(c_b)
        t = D / SE,   p = 2 * P(T_df >= |t|),   df = SE^4 / (V_seeds^2 / (n - 1))  (Welch-Satterthwaite)

    The scaled deviations e make the seed level's bootstrap variance the unbiased s_d^2 / n (a
    plain resample of n values has (n - 1) / n of it). The seed part of the variance is known to
    n - 1 degrees of freedom, the image part to as many as there are test images (taken as
    infinite), so df runs from n - 1 (seed variance dominates: with no image noise this is the
    paired t-test across pairs) to the normal test (image noise dominates). Resamples where a
    statistic is undefined (NaN) are dropped. None with fewer than ``MIN_PAIRS`` pairs or no defined
    resample; SE = 0 gives p = 1 when D = 0, else 0.
    """
    points = np.asarray(points, dtype=np.float64)
    n = points.shape[0]
    if n < MIN_PAIRS:
        return None
    d = sign * (points[:, 0] - points[:, 1])
    d_b = sign * (np.asarray(replicates[:, 0], dtype=np.float64) - np.asarray(replicates[:, 1], dtype=np.float64))
    d_b = d_b[:, np.isfinite(d_b).all(axis=0)]
    if d_b.shape[1] < 2 or not np.isfinite(d).all():
        return None
    centre = d_b.mean(axis=0)
    scaled = centre + np.sqrt(n / (n - 1)) * (d_b - centre)
    drawn = np.random.default_rng(seed).integers(0, n, size=(n, d_b.shape[1]))
    resampled = np.take_along_axis(scaled, drawn, axis=0).mean(axis=0)
    mean = float(d.mean())
    variance = float(resampled.var())
    if variance == 0.0:
        return 1.0 if mean == 0.0 else 0.0
    seeds = max(variance - float(centre.var()), 0.0)
    df = np.inf if seeds == 0.0 else variance ** 2 / (seeds ** 2 / (n - 1))
    return student_t_sf2(abs(mean) / np.sqrt(variance), df)
