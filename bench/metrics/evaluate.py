"""mAP(C), mAP(O), micro AP and per-class AP under the evaluators of the reference code.

Per-class AP is always the non-interpolated AP of ``bench.metrics.ranking`` (tied scores form one
step, as in sklearn's ``average_precision_score``). The evaluators differ in which entries and
classes count:

``partial`` (default; CSL's ``AP_partial``, docs/methods.md §5.1-§5.2)
    Per class, only annotated entries (label != UNANN) are ranked. A class with no annotated entry,
    no annotated positive or no annotated negative is excluded (``per_class_ap`` NaN; the reason is
    recorded in ``excluded``). mAP(C) = 100 * mean AP over the remaining classes; mAP(O) = 100 *
    sum_c AP_c * n_pos_c / sum_c n_pos_c over the same classes.
``full`` (CSL/ASL ``mAP`` on fully labelled test sets, §1.6)
    Every (sample, class) pair counts and every label other than POS is a negative, un-annotated
    entries included, as in the reference (``target != 1`` is negative). A class without positives
    scores AP 0 and stays in the mean. Needs dense (N, C) scores. The reference divides by
    ``n_pos + 1e-8`` and breaks ties by an unstable argsort; we use exact sklearn tie grouping, so
    values agree to ~1e-8 relative on tie-free scores and may differ on ties.
``sklearn`` (Cole et al. / LargeLossMatters ``metrics.py``, §4.7, §5.4)
    sklearn AP per class over the annotated entries (``compute_metrics_openimages``: a class with no
    annotated entry is skipped); a class without positives scores 0 and stays in the mean, a class
    without negatives scores 1. On fully labelled test sets this is their ``compute_metrics``.

``micro_ap`` is the AP of all counted (sample, class) pairs pooled into one ranking (NaN under
``partial`` when no positive exists, 0 under the other two).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.labels.encoding import LabelMatrix
from bench.metrics.entries import all_entries, annotated_entries, checked_inputs
from bench.metrics.ranking import grouped_average_precision

EVALUATORS: tuple[str, ...] = ("partial", "full", "sklearn")
NO_ANNOTATED = "no annotated entries"
NO_POSITIVE = "no positive"
NO_NEGATIVE = "no negative"
EXCLUSION_REASONS: tuple[str, ...] = (NO_ANNOTATED, NO_POSITIVE, NO_NEGATIVE)


def _json_float(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


@dataclass(frozen=True)
class EvalResult:
    """One evaluation: mAPs on a 0-100 scale, per-class AP on 0-1 (NaN = excluded)."""

    evaluator: str
    map_c: float
    map_o: float
    micro_ap: float
    per_class_ap: np.ndarray
    n_pos: np.ndarray
    excluded: dict[int, str] = field(default_factory=dict)
    group_map: dict[str, float] = field(default_factory=dict)

    @property
    def exclusion_counts(self) -> dict[str, int]:
        """Number of excluded classes for each reason in ``EXCLUSION_REASONS``."""
        reasons = list(self.excluded.values())
        return {reason: reasons.count(reason) for reason in EXCLUSION_REASONS}

    @property
    def num_valid_classes(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.per_class_ap)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN becomes None, class indices become string keys)."""
        return {
            "evaluator": self.evaluator,
            "map_c": _json_float(self.map_c),
            "map_o": _json_float(self.map_o),
            "micro_ap": _json_float(self.micro_ap),
            "per_class_ap": [_json_float(v) for v in self.per_class_ap],
            "n_pos": [int(v) for v in self.n_pos],
            "excluded": {str(c): reason for c, reason in sorted(self.excluded.items())},
            "exclusion_counts": self.exclusion_counts,
            "num_valid_classes": self.num_valid_classes,
            "group_map": {name: _json_float(v) for name, v in self.group_map.items()},
        }


def _exclusions(evaluator: str, n_pos: np.ndarray, n_entries: np.ndarray) -> dict[int, str]:
    if evaluator == "full":
        return {}
    reason = np.full(n_pos.shape, "", dtype=object)
    if evaluator == "partial":
        reason[n_entries == n_pos] = NO_NEGATIVE
        reason[n_pos == 0] = NO_POSITIVE
    reason[n_entries == 0] = NO_ANNOTATED
    return {int(c): str(reason[c]) for c in np.flatnonzero(reason != "")}


def _group_map(
    per_class_ap: np.ndarray, class_groups: Mapping[str, Iterable[int]] | None
) -> dict[str, float]:
    num_classes = per_class_ap.size
    out: dict[str, float] = {}
    for name, members in (class_groups or {}).items():
        try:
            index = np.unique(np.asarray(list(members), dtype=np.int64))
        except (TypeError, ValueError):
            raise ValueError(f"class_groups[{name!r}]: expected integer class indices") from None
        if index.size and (index.min() < 0 or index.max() >= num_classes):
            bad = index[(index < 0) | (index >= num_classes)][0]
            raise ValueError(
                f"class_groups[{name!r}]: class index {bad} out of range for {num_classes} classes"
            )
        values = per_class_ap[index]
        values = values[~np.isnan(values)]
        out[name] = 100.0 * float(values.mean()) if values.size else float("nan")
    return out


def evaluate(
    scores: npt.ArrayLike,
    labels: LabelMatrix,
    evaluator: str = "partial",
    class_groups: Mapping[str, Iterable[int]] | None = None,
) -> EvalResult:
    """Evaluate ``scores`` against ``labels`` with the named evaluator (see the module docstring).

    ``scores`` is dense (N, C) or, with sparse CSR ``labels``, 1-D aligned with the labels' canonical
    CSR ``data`` (see ``entry_scores``), so large label spaces never materialise N x C.
    ``class_groups`` maps a group name to class indices; ``group_map`` holds 100 * mean AP over each
    group's non-excluded classes (NaN when none).
    """
    if evaluator not in EVALUATORS:
        raise ValueError(f"evaluator: unknown {evaluator!r}; choose one of {', '.join(EVALUATORS)}")
    scores, labels = checked_inputs(scores, labels)
    entries = all_entries(scores, labels) if evaluator == "full" else annotated_entries(scores, labels)
    positive = entries.positive
    ap, n_pos, n_entries = grouped_average_precision(
        entries.classes, entries.scores, positive, entries.num_classes
    )
    pooled = np.zeros(entries.scores.size, dtype=np.int8)
    micro = float(grouped_average_precision(pooled, entries.scores, positive, 1)[0][0])

    excluded = _exclusions(evaluator, n_pos, n_entries)
    if evaluator != "partial":
        ap[n_pos == 0] = 0.0
        micro = 0.0 if np.isnan(micro) else micro
    ap[list(excluded)] = np.nan
    valid = ~np.isnan(ap)
    weight = n_pos[valid].sum()
    return EvalResult(
        evaluator=evaluator,
        map_c=100.0 * float(ap[valid].mean()) if valid.any() else float("nan"),
        map_o=100.0 * float(ap[valid] @ n_pos[valid] / weight) if weight else float("nan"),
        micro_ap=100.0 * micro,
        per_class_ap=ap,
        n_pos=n_pos,
        excluded=excluded,
        group_map=_group_map(ap, class_groups),
    )
