"""The label model: one int8 encoding everywhere.

A sample's labels are a vector in {1, -1, 0}^C:

* ``POS = 1``   annotated positive,
* ``NEG = -1``  annotated negative,
* ``UNANN = 0`` un-annotated (no information).

Label matrices are either dense ``numpy.ndarray`` of dtype int8 with shape (N, C), or sparse
``scipy.sparse.csr_array`` / ``csr_matrix`` holding only the annotated entries (values +-1; every
implicit zero is un-annotated), which is how OpenImages-scale label spaces are stored.
Every public function of ``bench`` that takes labels accepts both.
"""
from __future__ import annotations

from typing import Union

import numpy as np
import scipy.sparse as sp

POS: int = 1
NEG: int = -1
UNANN: int = 0
LABEL_DTYPE = np.int8

LabelMatrix = Union[np.ndarray, sp.csr_array, sp.csr_matrix]


class LabelError(ValueError):
    """A label matrix holds a value outside {1, -1, 0} or has the wrong shape."""


def is_sparse(labels: LabelMatrix) -> bool:
    """True when ``labels`` is a scipy sparse matrix/array."""
    return sp.issparse(labels)


def validate_labels(labels: LabelMatrix, where: str = "labels", num_classes: int | None = None) -> LabelMatrix:
    """Check that ``labels`` is a 2-D matrix in our encoding and return it as int8.

    Raises ``LabelError`` naming ``where``, how many entries are invalid and the first offending
    (row, column) and value.
    """
    if is_sparse(labels):
        csr = sp.csr_array(labels)
        data = np.asarray(csr.data)
        bad = ~np.isin(data, (POS, NEG, UNANN))
        if bad.any():
            rows = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))
            first = int(np.flatnonzero(bad)[0])
            raise LabelError(
                f"{where}: {int(bad.sum())} label value(s) outside {{1, -1, 0}}; first at row "
                f"{int(rows[first])}, column {int(csr.indices[first])}: {data[first]!r}"
            )
        out = sp.csr_array((data.astype(LABEL_DTYPE), csr.indices, csr.indptr), shape=csr.shape)
    else:
        arr = np.asarray(labels)
        if arr.ndim != 2:
            raise LabelError(f"{where}: expected a 2-D (samples x classes) matrix, got shape {arr.shape}")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            bad_mask = ~np.isfinite(arr)
        else:
            bad_mask = ~np.isin(arr, (POS, NEG, UNANN))
        if bad_mask.any():
            r, c = np.argwhere(bad_mask)[0]
            raise LabelError(
                f"{where}: {int(bad_mask.sum())} label value(s) outside {{1, -1, 0}}; first at row "
                f"{int(r)}, column {int(c)}: {arr[r, c]!r}"
            )
        out = arr.astype(LABEL_DTYPE, copy=False)
    if num_classes is not None and out.shape[1] != num_classes:
        raise LabelError(f"{where}: {out.shape[1]} classes, expected {num_classes}")
    return out


def to_dense(labels: LabelMatrix) -> np.ndarray:
    """Dense int8 (N, C) copy of ``labels`` (un-annotated entries become 0)."""
    if is_sparse(labels):
        return np.asarray(labels.toarray(), dtype=LABEL_DTYPE)
    return np.asarray(labels, dtype=LABEL_DTYPE)


def to_sparse(labels: LabelMatrix) -> sp.csr_array:
    """Sparse CSR int8 copy holding only the annotated entries."""
    if is_sparse(labels):
        out = sp.csr_array(labels, dtype=LABEL_DTYPE)
    else:
        out = sp.csr_array(np.asarray(labels, dtype=LABEL_DTYPE))
    out.eliminate_zeros()
    return out
