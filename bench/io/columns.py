"""Column buffers for streaming readers: filled block by block, never concatenated.

``Column(capacity, dtype)`` allocates its upper-bound capacity with ``numpy.empty``: the operating
system maps pages only when they are written, so an unused tail costs address space, not memory,
and no per-block pieces fragment the heap. ``row_bound(path, min_row_bytes)`` is such an upper
bound on a CSV's data rows from its size.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def row_bound(path: str | Path, min_row_bytes: int) -> int:
    """Most data rows a file of this size can hold when every row takes >= ``min_row_bytes``
    (counting its newline; the last row may lack one)."""
    return (os.path.getsize(path) + 1) // min_row_bytes + 1


class Column:
    """A 1-D array appended to block by block; ``values()`` is the filled part (a view)."""

    def __init__(self, capacity: int, dtype: np.dtype | type):
        self._data = np.empty(max(int(capacity), 1), dtype=dtype)
        self.size = 0

    def append(self, block: np.ndarray) -> None:
        end = self.size + block.size
        if end > self._data.size:  # the bound was wrong: grow (realloc) rather than fail
            self._data.resize(max(end, 2 * self._data.size), refcheck=False)
        self._data[self.size:end] = block
        self.size = end

    def values(self) -> np.ndarray:
        return self._data[: self.size]


def row_index(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int64 row of each key, sorted distinct keys). Keys already sorted (files sorted by ImageID,
    as the official ones are) take an O(n) pass; others a sort of the distinct keys and a binary
    search (no hash table)."""
    if keys.size and bool(np.all(keys[1:] >= keys[:-1])):
        starts = np.empty(keys.size, dtype=bool)
        starts[0] = True
        np.not_equal(keys[1:], keys[:-1], out=starts[1:])
        rows = np.cumsum(starts, dtype=np.int64)
        rows -= 1
        return rows, keys[starts]
    uniques = np.unique(keys)
    return np.searchsorted(uniques, keys).astype(np.int64, copy=False), uniques
