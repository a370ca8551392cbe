"""A mutable sparse label matrix (our encoding) that hands out dense rows: the storage of a
``LabelStore`` built from a CSR label matrix (OpenImages scale: 9M x 9,605 with ~1% annotated).

The matrix is a CSR (sorted column indices per row, only annotated entries stored) plus an
*overlay*: entries written by ``assign`` that the CSR does not store, as sorted unique keys
``row * C + column`` with their int8 values. Overlay and CSR never store the same entry, so the
value of (r, c) is the CSR's entry if stored, else the overlay's, else 0 (un-annotated). When the
overlay grows past ``max(MIN_OVERLAY, nnz // 8)`` entries it is merged into the CSR by scipy.
Every operation is vectorised over the requested rows/entries (no Python loop over rows).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bench.labels.encoding import LABEL_DTYPE

if TYPE_CHECKING:  # scipy.sparse costs ~0.15 s to import: each method imports it when it needs it
    import scipy.sparse as sp

MIN_OVERLAY = 4096


def _runs(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions covered by the half-open ranges [starts[i], ends[i]) in order, and for each
    position the ``i`` of its range."""
    lengths = ends - starts
    owner = np.repeat(np.arange(len(starts)), lengths)
    run_start = np.cumsum(lengths) - lengths
    positions = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(starts - run_start, lengths)
    return positions, owner


class SparseLabelRows:
    """CSR + overlay label matrix; see the module docstring for the invariants."""

    def __init__(self, labels: sp.csr_array | sp.csr_matrix):
        import scipy.sparse as sp

        csr = sp.csr_array(labels, dtype=LABEL_DTYPE, copy=True)
        csr.sum_duplicates()
        self.shape = (int(csr.shape[0]), int(csr.shape[1]))
        self.indptr = np.asarray(csr.indptr, dtype=np.int64)
        self.indices = np.asarray(csr.indices)
        self.data = np.asarray(csr.data)
        self.keys = np.empty(0, dtype=np.int64)
        self.values = np.empty(0, dtype=LABEL_DTYPE)

    @classmethod
    def from_arrays(cls, shape: tuple[int, int], indptr: np.ndarray, indices: np.ndarray,
                    data: np.ndarray) -> SparseLabelRows:
        """The matrix of a CSR given by its arrays (as written by ``csr()``)."""
        import scipy.sparse as sp

        return cls(sp.csr_array((data, indices, indptr), shape=shape))

    def rows(self, index: np.ndarray) -> np.ndarray:
        """Dense (len(index), C) int8 rows ``index`` (repeats allowed)."""
        index = np.asarray(index, dtype=np.int64)
        num_classes = self.shape[1]
        out = np.zeros((len(index), num_classes), dtype=LABEL_DTYPE)
        positions, owner = _runs(self.indptr[index], self.indptr[index + 1])
        out[owner, self.indices[positions]] = self.data[positions]
        if self.keys.size:
            first = index * num_classes
            positions, owner = _runs(np.searchsorted(self.keys, first),
                                     np.searchsorted(self.keys, first + num_classes))
            out[owner, self.keys[positions] % num_classes] = self.values[positions]
        return out

    def _stored_positions(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """For each entry (rows[i], cols[i]) its position in the CSR's data, or -1 when not stored."""
        unique_rows, local_row = np.unique(rows, return_inverse=True)
        positions, owner = _runs(self.indptr[unique_rows], self.indptr[unique_rows + 1])
        stored = owner * self.shape[1] + self.indices[positions]
        wanted = local_row.reshape(-1) * self.shape[1] + cols
        at = np.minimum(np.searchsorted(stored, wanted), max(stored.size - 1, 0))
        hit = stored[at] == wanted if stored.size else np.zeros(wanted.shape, dtype=bool)
        return np.where(hit, positions[at] if stored.size else -1, -1)

    def values_at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Current values of the entries (rows[i], cols[i]) (int8)."""
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        out = np.zeros(rows.shape, dtype=LABEL_DTYPE)
        stored = self._stored_positions(rows, cols)
        out[stored >= 0] = self.data[stored[stored >= 0]]
        if self.keys.size:
            keys = rows * self.shape[1] + cols
            at = np.minimum(np.searchsorted(self.keys, keys), self.keys.size - 1)
            hit = self.keys[at] == keys
            out[hit] = self.values[at[hit]]
        return out

    def assign(self, rows: np.ndarray, cols: np.ndarray, value: int) -> None:
        """Set the entries (rows[i], cols[i]) to ``value``: stored entries in place, the others in
        the overlay (merged into the CSR when it grows past its limit)."""
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        stored = self._stored_positions(rows, cols)
        self.data[stored[stored >= 0]] = value
        new = stored < 0
        keys = np.union1d(self.keys, rows[new] * self.shape[1] + cols[new])
        values = np.full(keys.shape, value, dtype=LABEL_DTYPE)
        if self.keys.size:
            values[np.searchsorted(keys, self.keys)] = self.values
            values[np.searchsorted(keys, rows[new] * self.shape[1] + cols[new])] = value
        self.keys, self.values = keys, values
        if self.keys.size > max(MIN_OVERLAY, self.data.size // 8):
            self.merge()

    def merge(self) -> None:
        """Fold the overlay into the CSR (scipy; the supports are disjoint, so a sum is a union)."""
        if not self.keys.size:
            return
        import scipy.sparse as sp

        rows, cols = np.divmod(self.keys, self.shape[1])
        overlay = sp.csr_array((self.values, (rows, cols)), shape=self.shape)
        merged = self.csr(include_overlay=False) + overlay
        merged.sort_indices()
        self.indptr = np.asarray(merged.indptr, dtype=np.int64)
        self.indices, self.data = np.asarray(merged.indices), np.asarray(merged.data, dtype=LABEL_DTYPE)
        self.keys = np.empty(0, dtype=np.int64)
        self.values = np.empty(0, dtype=LABEL_DTYPE)

    def csr(self, include_overlay: bool = True) -> sp.csr_array:
        """The matrix as a CSR (overlay merged first unless ``include_overlay`` is False)."""
        import scipy.sparse as sp

        if include_overlay:
            self.merge()
        return sp.csr_array((self.data, self.indices, self.indptr), shape=self.shape)
