"""Rank correlation between an estimated class prior and the true class frequencies (CSL Fig. 7)."""
from __future__ import annotations

import numpy as np
import numpy.typing as npt


def _vectors(estimate: npt.ArrayLike, truth: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    est = np.asarray(estimate, dtype=np.float64)
    true = np.asarray(truth, dtype=np.float64)
    if est.ndim != 1 or est.shape != true.shape:
        raise ValueError(f"estimate: shape {est.shape} must be 1-D and match truth shape {true.shape}")
    if not (np.isfinite(est).all() and np.isfinite(true).all()):
        raise ValueError("estimate/truth: NaN or inf values; Spearman needs finite numbers")
    return est, true


def spearman(estimate: npt.ArrayLike, truth: npt.ArrayLike) -> float:
    """Spearman's rho (``scipy.stats.spearmanr``; ties get average ranks) over all classes."""
    from scipy.stats import spearmanr  # scipy.stats takes a second to import: only when a prior is checked

    est, true = _vectors(estimate, truth)
    return float(spearmanr(est, true).statistic)


def top_k_spearman(estimate: npt.ArrayLike, truth: npt.ArrayLike, k: int) -> float:
    """Spearman's rho over the ``k`` classes most frequent in ``truth`` (ties: lower class index first)."""
    from scipy.stats import spearmanr

    est, true = _vectors(estimate, truth)
    if not 2 <= k <= true.size:
        raise ValueError(f"k: {k} must be between 2 and the number of classes ({true.size})")
    top = np.argsort(-true, kind="stable")[:k]
    return float(spearmanr(est[top], true[top]).statistic)
