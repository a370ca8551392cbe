"""Scores and labels checked and flattened into scored entries, without materialising N x C.

Accepted inputs (see ``bench.labels.encoding``): labels dense (N, C) int8 or sparse CSR holding only the
annotated entries; scores either dense (N, C) or, with sparse labels, 1-D aligned with the labels'
stored ``data`` in canonical CSR order (rows in order, sorted column indices, no duplicates) --
``entry_scores`` builds that vector from dense scores. Every check raises a one-line
``ValueError`` naming ``scores`` or ``labels``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from bench.labels.encoding import (
    POS,
    UNANN,
    LabelMatrix,
    canonical_csr,
    canonical_csr_arrays,
    is_sparse,
    to_dense,
    validate_labels,
)

if TYPE_CHECKING:  # scipy.sparse costs ~0.15 s to import: these functions only read sparse inputs
    import scipy.sparse as sp


@dataclass(frozen=True)
class Entries:
    """Flat scored entries: entry ``i`` is class ``classes[i]`` with ``scores[i]`` and ``labels[i]``."""

    classes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    num_classes: int

    @property
    def positive(self) -> np.ndarray:
        return self.labels == POS


def _check_real(scores: np.ndarray) -> None:
    if scores.dtype.kind not in "biuf":
        raise ValueError(f"scores: expected real numbers, got dtype {scores.dtype}")


def _first_non_finite(scores: np.ndarray, labels: LabelMatrix) -> str | None:
    if scores.dtype.kind != "f":
        return None
    bad = ~np.isfinite(scores)
    if not bad.any():
        return None
    if scores.ndim == 2:
        row, col = np.argwhere(bad)[0]
        where = f"row {row}, column {col}"
    else:
        entry = int(np.flatnonzero(bad)[0])
        row = int(np.searchsorted(labels.indptr, entry, side="right") - 1)
        where = f"entry {entry} (row {row}, column {labels.indices[entry]})"
    first = float(scores[tuple(np.argwhere(bad)[0])])
    return f"scores: {int(bad.sum())} non-finite value(s) (NaN or inf); first at {where}: {first}"


def checked_inputs(scores: npt.ArrayLike, labels: LabelMatrix) -> tuple[np.ndarray, LabelMatrix]:
    """Validate labels (``bench.labels.encoding.validate_labels``) and scores against them; return both."""
    labels = validate_labels(labels, "labels")
    scores = np.asarray(scores)
    _check_real(scores)
    if scores.ndim == 1:
        if not is_sparse(labels):
            raise ValueError(
                f"scores: 1-D scores need sparse (CSR) labels; with dense labels pass (N, C) = {labels.shape}"
            )
        if scores.size != labels.nnz:
            raise ValueError(
                f"scores: {scores.size} values, but 1-D scores need one per stored label entry "
                f"(labels hold {labels.nnz})"
            )
    elif scores.shape != labels.shape:
        raise ValueError(f"scores: shape {scores.shape} does not match labels shape {labels.shape}")
    if is_sparse(labels) and not labels.has_canonical_format:
        raise ValueError(
            "labels: sparse labels must be canonical CSR (sorted column indices, no duplicate entries); "
            "build them with bench.labels.encoding.to_sparse"
        )
    problem = _first_non_finite(scores, labels)
    if problem:
        raise ValueError(problem)
    return scores, labels


def _sparse_rows(labels: sp.csr_array) -> np.ndarray:
    return np.repeat(np.arange(labels.shape[0], dtype=np.int64), np.diff(labels.indptr))


def entry_scores(scores: npt.ArrayLike, labels: LabelMatrix) -> np.ndarray:
    """Dense (N, C) scores gathered at the stored entries of sparse ``labels``, in CSR ``data`` order."""
    scores = np.asarray(scores)
    labels = validate_labels(labels, "labels")
    if not is_sparse(labels):
        raise ValueError("labels: entry_scores needs sparse (CSR) labels")
    if scores.shape != labels.shape:
        raise ValueError(f"scores: shape {scores.shape} does not match labels shape {labels.shape}")
    return scores[_sparse_rows(labels), labels.indices]


def canonical_entry_scores(scores: npt.ArrayLike, labels: LabelMatrix) -> np.ndarray:
    """``entry_scores(scores, canonical_csr(labels))``, value for value: dense (N, C) scores at the
    annotated entries of ``labels`` in canonical CSR order (row-major), the form test scores are
    stored in. Dense labels are read with numpy alone (``canonical_csr_arrays``), so no scipy
    sparse matrix is built for them."""
    if is_sparse(labels):
        return entry_scores(scores, canonical_csr(labels))
    scores = np.asarray(scores)
    csr = canonical_csr_arrays(labels)
    if scores.shape != csr.shape:
        raise ValueError(f"scores: shape {scores.shape} does not match labels shape {csr.shape}")
    return scores[np.repeat(np.arange(csr.shape[0], dtype=np.int64), np.diff(csr.indptr)), csr.indices]


def entry_scores_by_blocks(score_rows: Callable[[int, int], np.ndarray], labels: LabelMatrix,
                           block_rows: int = 4096) -> np.ndarray:
    """``entry_scores(S, labels)`` without ever holding the dense (N, C) ``S``: ``score_rows(a, b)``
    returns the dense rows ``S[a:b]`` (shape (b - a, C)), called for consecutive blocks of
    ``block_rows`` rows; the result (float32 when ``S`` is) is gathered block by block, so the peak
    is one block plus the ``nnz`` entry scores. Equal, value for value, to ``entry_scores`` on the
    concatenated blocks."""
    labels = validate_labels(labels, "labels")
    if not is_sparse(labels):
        raise ValueError("labels: entry_scores_by_blocks needs sparse (CSR) labels")
    num_rows, num_classes = labels.shape
    out: np.ndarray | None = None
    for start in range(0, num_rows, block_rows):
        stop = min(start + block_rows, num_rows)
        block = np.asarray(score_rows(start, stop))
        if block.shape != (stop - start, num_classes):
            raise ValueError(f"scores: rows {start}:{stop} have shape {block.shape}, expected "
                             f"{(stop - start, num_classes)}")
        if out is None:
            out = np.empty(labels.nnz, dtype=block.dtype)
        lo, hi = labels.indptr[start], labels.indptr[stop]
        rows = np.repeat(np.arange(stop - start, dtype=np.int64), np.diff(labels.indptr[start : stop + 1]))
        out[lo:hi] = block[rows, labels.indices[lo:hi]]
    return out if out is not None else np.empty(0, dtype=np.float32)


def annotated_entries(scores: np.ndarray, labels: LabelMatrix) -> Entries:
    """The annotated (label != UNANN) entries of already checked inputs."""
    num_classes = labels.shape[1]
    if not is_sparse(labels):
        rows, cols = np.nonzero(labels)
        return Entries(cols, scores[rows, cols], labels[rows, cols], num_classes)
    values, cols = labels.data, labels.indices
    flat = scores if scores.ndim == 1 else scores[_sparse_rows(labels), cols]
    keep = values != UNANN
    if keep.all():
        return Entries(cols, flat, values, num_classes)
    return Entries(cols[keep], flat[keep], values[keep], num_classes)


def all_entries(scores: np.ndarray, labels: LabelMatrix) -> Entries:
    """Every (sample, class) pair of already checked inputs; un-annotated entries keep label UNANN."""
    if scores.ndim != 2:
        raise ValueError(
            "scores: this evaluator counts every (sample, class) pair, so it needs dense (N, C) scores, "
            "not 1-D scores aligned with sparse labels"
        )
    dense = to_dense(labels)
    num_samples, num_classes = dense.shape
    classes = np.tile(np.arange(num_classes, dtype=np.int64), num_samples)
    return Entries(classes, scores.ravel(), dense.ravel(), num_classes)
