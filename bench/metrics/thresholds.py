"""Per-class and overall precision / recall / F1 of thresholded or top-k predictions.

Only annotated entries count: per class ``c``, ``TP_c`` = predicted annotated positives, ``FP_c`` =
predicted annotated negatives, ``FN_c`` = unpredicted annotated positives. Then (0-100 scale)

    CP = mean_c TP_c / (TP_c + FP_c)      CR = mean_c TP_c / (TP_c + FN_c)     CF1 = 2 CP CR / (CP + CR)
    OP = sum TP / sum (TP + FP)           OR = sum TP / sum (TP + FN)          OF1 = 2 OP OR / (OP + OR)

(the usual multi-label definitions, e.g. ML-GCN / ASL). Class means run over the classes with at
least one annotated entry, and 0/0 counts as 0 (sklearn's ``zero_division=0``), so on fully labelled
data CP and CR equal sklearn's macro ``precision_score`` / ``recall_score`` and OP / OR the micro ones.
"""
from __future__ import annotations

import numpy as np
import numpy.typing as npt

from bench.labels.encoding import NEG, POS, LabelMatrix
from bench.metrics.entries import annotated_entries, checked_inputs

METRIC_NAMES: tuple[str, ...] = ("CP", "CR", "CF1", "OP", "OR", "OF1")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(np.shape(num), dtype=np.float64), where=den > 0)


def _f1(precision: float, recall: float) -> float:
    return float(_ratio(np.float64(2 * precision * recall), np.float64(precision + recall)))


def top_k_mask(scores: np.ndarray, k: int) -> np.ndarray:
    """Boolean (N, C): the ``k`` highest-scoring classes of each row; ties go to the lower class index."""
    if not 1 <= k <= scores.shape[1]:
        raise ValueError(f"top_k: {k} must be between 1 and the number of classes ({scores.shape[1]})")
    top = np.argsort(-scores.astype(np.float64), axis=1, kind="stable")[:, :k]
    mask = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(mask, top, True, axis=1)
    return mask


def threshold_metrics(
    scores: npt.ArrayLike, labels: LabelMatrix, threshold: float = 0.5, top_k: int | None = None
) -> dict[str, float]:
    """CP, CR, CF1, OP, OR, OF1 (0-100) over the annotated entries (see the module docstring).

    Predicted positive: ``score >= threshold``, or with ``top_k`` the ``top_k`` highest-scoring
    classes of each image (``threshold`` is then ignored; needs dense (N, C) scores).
    """
    scores, labels = checked_inputs(scores, labels)
    entries = annotated_entries(scores, labels)
    if top_k is None:
        predicted = entries.scores >= threshold
    elif scores.ndim != 2:
        raise ValueError("scores: top_k needs dense (N, C) scores, not 1-D scores aligned with sparse labels")
    else:
        predicted = annotated_entries(top_k_mask(scores, top_k), labels).scores
    num_classes = entries.num_classes
    positive, negative = entries.labels == POS, entries.labels == NEG
    tp = np.bincount(entries.classes[predicted & positive], minlength=num_classes)
    fp = np.bincount(entries.classes[predicted & negative], minlength=num_classes)
    fn = np.bincount(entries.classes[~predicted & positive], minlength=num_classes)
    counted = np.bincount(entries.classes, minlength=num_classes) > 0
    if not counted.any():
        return {name: float("nan") for name in METRIC_NAMES}
    cp = float(_ratio(tp, tp + fp)[counted].mean())
    cr = float(_ratio(tp, tp + fn)[counted].mean())
    op = float(_ratio(tp.sum(), tp.sum() + fp.sum()))
    orr = float(_ratio(tp.sum(), tp.sum() + fn.sum()))
    values = (cp, cr, _f1(cp, cr), op, orr, _f1(op, orr))
    return {name: 100.0 * value for name, value in zip(METRIC_NAMES, values)}
