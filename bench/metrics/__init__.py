"""Exact, vectorised multi-label metrics: AP with sklearn tie grouping, mAP(C)/mAP(O)/micro AP under
the reference evaluators (``partial``, ``full``, ``sklearn``), threshold metrics and Spearman.

See ``bench.metrics.evaluate`` for the evaluators' exact definitions and
``bench.metrics.ranking`` for the AP formula and its tie semantics.
"""
from __future__ import annotations

from bench.metrics.correlation import spearman, top_k_spearman
from bench.metrics.entries import canonical_entry_scores, entry_scores
from bench.metrics.evaluate import (
    EVALUATORS,
    EXCLUSION_REASONS,
    NO_ANNOTATED,
    NO_NEGATIVE,
    NO_POSITIVE,
    EvalResult,
    evaluate,
)
from bench.metrics.ranking import average_precision, grouped_average_precision
from bench.metrics.thresholds import METRIC_NAMES, threshold_metrics, top_k_mask

__all__ = [
    "EVALUATORS", "EXCLUSION_REASONS", "NO_ANNOTATED", "NO_NEGATIVE", "NO_POSITIVE", "EvalResult",
    "evaluate", "entry_scores", "canonical_entry_scores", "average_precision", "grouped_average_precision",
    "METRIC_NAMES", "threshold_metrics", "top_k_mask", "spearman", "top_k_spearman",
]
