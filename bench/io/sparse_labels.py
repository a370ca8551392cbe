"""Sparse label matrices from (row, column, positive) triplets, with duplicates resolved.

A (row, column) pair listed more than once keeps **positive if any listing is positive** (a
human verified the class as present at least once); ``stats`` counts the redundant listings
(``duplicate_rows``) and the pairs listed both positive and negative (``conflicting_pairs``).

Each triplet is one int64 sort key ``(row * n_cols + col) * 2 + positive``; after an in-place sort
the last key of each (row, col) group carries the positive flag if any listing had it. Peak memory
is about 18 bytes per triplet (the key, one temporary, a mask).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bench.labels.encoding import LABEL_DTYPE

if TYPE_CHECKING:  # scipy.sparse costs ~0.15 s to import: loaded only where a sparse matrix is built or read
    import scipy.sparse as sp


def triplet_keys(rows: np.ndarray, cols: np.ndarray, positive: np.ndarray, n_cols: int,
                 out: np.ndarray | None = None) -> np.ndarray:
    """The int64 sort keys; ``out`` (an int64 array holding ``rows``) is reused when given."""
    key = np.asarray(rows, dtype=np.int64).copy() if out is None else out
    key *= n_cols
    key += cols
    key <<= 1
    key |= np.asarray(positive, dtype=bool)
    return key


def csr_from_keys(key: np.ndarray, shape: tuple[int, int]) -> tuple[sp.csr_array, dict[str, int]]:
    """CSR int8 (POS / NEG entries, canonical) from ``triplet_keys`` output, which it sorts and
    consumes in place; plus the duplicate statistics."""
    import scipy.sparse as sp

    n_rows, n_cols = shape
    if n_rows * n_cols * 2 >= 2**63:
        raise ValueError(f"label matrix {n_rows} x {n_cols} too large for int64 sort keys")
    key.sort()
    is_last = np.ones(key.size, dtype=bool)
    if key.size > 1:
        step = key[1:] ^ key[:-1]  # < 2: same (row, col); == 1: same pair, negative then positive
        np.greater(step, 1, out=is_last[:-1])
        conflicting = int(np.count_nonzero(step == 1))
        del step
    else:
        conflicting = 0
    duplicate_rows = int(key.size - np.count_nonzero(is_last))
    key = key[is_last]
    del is_last
    data = (key & 1).astype(LABEL_DTYPE)
    data *= 2
    data -= 1
    key >>= 1
    row_of = key // n_cols
    counts = np.bincount(row_of, minlength=n_rows)
    np.multiply(row_of, n_cols, out=row_of)
    key -= row_of
    del row_of
    index_dtype = np.int32 if max(key.size, n_cols) < 2**31 else np.int64
    indices = key.astype(index_dtype)
    del key
    indptr = np.zeros(n_rows + 1, dtype=index_dtype)
    np.cumsum(counts, out=indptr[1:])
    labels = sp.csr_array((data, indices, indptr), shape=shape)
    labels.has_sorted_indices = True
    return labels, {"duplicate_rows": duplicate_rows, "conflicting_pairs": conflicting}


def csr_from_triplets(rows: np.ndarray, cols: np.ndarray, positive: np.ndarray,
                      shape: tuple[int, int]) -> tuple[sp.csr_array, dict[str, int]]:
    """CSR int8 and duplicate statistics of the triplets (inputs left untouched)."""
    return csr_from_keys(triplet_keys(rows, cols, positive, shape[1]), shape)
