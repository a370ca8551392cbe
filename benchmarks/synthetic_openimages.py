"""Synthetic OpenImages-V6-test-scale labels and scores (fixed seed), plus the dense baselines.

Labels: 125,436 images x 9,600 classes, each (image, class) entry annotated independently with
probability 1% (drawn as a Bernoulli process over the flat index with geometric gaps, so N x C is
never materialised); 40% of annotations positive. Scores: float32 sigmoid(N(0, 1) + 1.5 * y) at the
annotated entries, rounded to 4 decimals so that ties occur as with real model outputs.

Run as a script, it prints the peak memory of ``bench.metrics.evaluate`` on this data as JSON
(see ``peak_memory``; the process's own peak RSS also covers generating the inputs).
"""
from __future__ import annotations

import json
import resource
import sys
import tracemalloc

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import average_precision_score

NUM_IMAGES = 125_436
NUM_CLASSES = 9_600
ANNOTATED_FRACTION = 0.01
POSITIVE_FRACTION = 0.4
SEED = 20240601


def openimages_scale(
    num_images: int = NUM_IMAGES, num_classes: int = NUM_CLASSES, seed: int = SEED
) -> tuple[np.ndarray, sp.csr_array]:
    """(1-D float32 scores aligned with the CSR data, canonical int8 CSR labels)."""
    rng = np.random.default_rng(seed)
    total = num_images * num_classes
    expected = total * ANNOTATED_FRACTION
    gaps = rng.geometric(ANNOTATED_FRACTION, size=int(expected + 6 * np.sqrt(expected)) + 16)
    flat = np.cumsum(gaps) - 1
    flat = flat[flat < total]
    rows, cols = np.divmod(flat, num_classes)
    del flat, gaps
    positive = rng.random(rows.size) < POSITIVE_FRACTION
    values = np.where(positive, 1, -1).astype(np.int8)
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=num_images)))).astype(np.int32)
    labels = sp.csr_array((values, cols.astype(np.int32), indptr), shape=(num_images, num_classes))
    logits = rng.standard_normal(rows.size, dtype=np.float32) + np.float32(1.5) * positive
    scores = np.round(1.0 / (1.0 + np.exp(-logits)), 4).astype(np.float32)
    return scores, labels


def dense_columns(scores: np.ndarray, labels: sp.csr_array, columns: np.ndarray, seed: int = SEED):
    """Dense (N, len(columns)) float32 scores and int8 labels of a column subset.

    Un-annotated entries get uniform random scores, as a model would score every entry.
    """
    rng = np.random.default_rng(seed + 1)
    rows = np.repeat(np.arange(labels.shape[0]), np.diff(labels.indptr))
    where = np.full(labels.shape[1], -1)
    where[columns] = np.arange(columns.size)
    keep = where[labels.indices] >= 0
    dense_scores = rng.random((labels.shape[0], columns.size), dtype=np.float32)
    dense_labels = np.zeros((labels.shape[0], columns.size), dtype=np.int8)
    dense_scores[rows[keep], where[labels.indices[keep]]] = scores[keep]
    dense_labels[rows[keep], where[labels.indices[keep]]] = labels.data[keep]
    return dense_scores, dense_labels


def dense_loop_ap(dense_scores: np.ndarray, dense_labels: np.ndarray) -> np.ndarray:
    """Baseline: per class, sort all images by score, keep the annotated ones, step AP with ties grouped."""
    ap = np.full(dense_scores.shape[1], np.nan)
    for c in range(dense_scores.shape[1]):
        order = np.argsort(-dense_scores[:, c], kind="stable")
        label = dense_labels[order, c]
        annotated = label != 0
        score, positive = dense_scores[order, c][annotated], label[annotated] == 1
        if not positive.any() or positive.all():
            continue
        tp = np.cumsum(positive)
        ends = np.append(np.flatnonzero(np.diff(score)), score.size - 1)
        pos_in_tie = np.diff(tp[ends], prepend=0)
        ap[c] = float(np.sum(pos_in_tie * tp[ends] / (ends + 1)) / tp[-1])
    return ap


def sklearn_loop_ap(dense_scores: np.ndarray, dense_labels: np.ndarray) -> np.ndarray:
    """Second baseline: per class, mask the annotated entries and call sklearn's average_precision_score."""
    ap = np.full(dense_scores.shape[1], np.nan)
    for c in range(dense_scores.shape[1]):
        annotated = dense_labels[:, c] != 0
        positive = dense_labels[annotated, c] == 1
        if positive.any() and not positive.all():
            ap[c] = average_precision_score(positive, dense_scores[annotated, c])
    return ap


def _current_rss_mib() -> float:
    """Resident memory now (Linux ``/proc``); elsewhere the peak so far, an upper bound."""
    try:
        pages = int(open("/proc/self/statm").read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_memory() -> dict[str, float]:
    """Peak memory (MiB) of one ``evaluate`` on the full synthetic set, measured in this process.

    ``evaluate_peak_mib`` = resident memory when the call starts (interpreter, libraries, inputs)
    + the ``tracemalloc`` peak of the allocations made during the call.
    """
    from bench.metrics import evaluate

    scores, labels = openimages_scale()
    rss_at_call = _current_rss_mib()
    tracemalloc.start()
    evaluate(scores, labels)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "rss_at_call_mib": rss_at_call,
        "evaluate_traced_peak_mib": traced_peak / 2**20,
        "evaluate_peak_mib": rss_at_call + traced_peak / 2**20,
        "process_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


if __name__ == "__main__":
    json.dump(peak_memory(), sys.stdout)
