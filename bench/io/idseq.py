"""Compact read-only string sequences for datasets with millions of rows.

``HexIds`` stores OpenImages-style 16-hex-digit image ids as uint64 (8 bytes per row instead of a
~65-byte Python string) and renders ``prefix + id + suffix`` on access, so the same class serves
as ``Split.ids`` (no prefix) and ``Split.images`` (folder prefix, ``.jpg`` suffix).
``ArrowStrings`` does the same over a pyarrow string array. Both support ``len``, iteration,
integer indexing, slices and integer-array / boolean-mask indexing (which return the same type).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Iterator

import numpy as np

from bench.core.lazy_module import LazyModule

pa = LazyModule("pyarrow")

_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_HEX_VALUE = np.full(256, 255, dtype=np.uint8)
_HEX_VALUE[_HEX_DIGITS] = np.arange(16, dtype=np.uint8)


def hex_keys(ids: pa.Array) -> np.ndarray | None:
    """uint64 keys of a string array whose values are all 16 lowercase hex digits, else None."""
    if ids.null_count or len(ids) == 0 or not pa.types.is_string(ids.type):
        return None
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32)[ids.offset: ids.offset + len(ids) + 1]
    if not np.array_equal(np.diff(offsets), np.full(len(ids), 16, dtype=np.int32)):
        return None
    raw = np.frombuffer(ids.buffers()[2], dtype=np.uint8)[offsets[0]: offsets[-1]].reshape(-1, 16)
    nibbles = _HEX_VALUE[raw]
    if (nibbles == 255).any():
        return None
    packed = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
    return np.ascontiguousarray(packed).view(">u8").ravel().astype(np.uint64)


def hex_text(keys: np.ndarray) -> np.ndarray:
    """The 16-hex-digit texts (dtype ``S16``) of uint64 ``keys``; inverse of ``hex_keys``."""
    raw = np.asarray(keys, dtype=">u8").view(np.uint8).reshape(-1, 8)
    text = np.empty((raw.shape[0], 16), dtype=np.uint8)
    text[:, 0::2] = _HEX_DIGITS[raw >> 4]
    text[:, 1::2] = _HEX_DIGITS[raw & 15]
    return text.view("S16").ravel()


class _RenderedSequence(Sequence):
    """Shared indexing logic: subclasses define ``_text(i)`` and ``_subset(index)``."""

    prefix: str
    suffix: str

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, (int, np.integer)):
            n = len(self)
            i = int(index) + n if index < 0 else int(index)
            if not 0 <= i < n:
                raise IndexError(f"index {index} out of range for {n} ids")
            return self.prefix + self._text(i) + self.suffix
        if isinstance(index, slice):
            index = np.arange(len(self))[index]
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        return self._subset(index.astype(np.int64))

    def __iter__(self) -> Iterator[str]:
        for i in range(len(self)):
            yield self[i]

    def _text(self, i: int) -> str:
        raise NotImplementedError

    def _subset(self, index: np.ndarray) -> _RenderedSequence:
        raise NotImplementedError


class HexIds(_RenderedSequence):
    """``prefix + f"{key:016x}" + suffix`` for each uint64 key."""

    def __init__(self, keys: np.ndarray, prefix: str = "", suffix: str = ""):
        self.keys = np.asarray(keys, dtype=np.uint64)
        self.prefix, self.suffix = prefix, suffix

    def __len__(self) -> int:
        return int(self.keys.size)

    def _text(self, i: int) -> str:
        return f"{int(self.keys[i]):016x}"

    def _subset(self, index: np.ndarray) -> HexIds:
        return HexIds(self.keys[index], self.prefix, self.suffix)

    def with_affixes(self, prefix: str, suffix: str) -> HexIds:
        return HexIds(self.keys, prefix, suffix)


class ArrowStrings(_RenderedSequence):
    """``prefix + value + suffix`` for each value of a pyarrow string array."""

    def __init__(self, values: pa.Array | pa.ChunkedArray, prefix: str = "", suffix: str = ""):
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        self.values = values
        self.prefix, self.suffix = prefix, suffix

    def __len__(self) -> int:
        return len(self.values)

    def _text(self, i: int) -> str:
        return self.values[i].as_py()

    def _subset(self, index: np.ndarray) -> ArrowStrings:
        return ArrowStrings(self.values.take(pa.array(index)), self.prefix, self.suffix)

    def with_affixes(self, prefix: str, suffix: str) -> ArrowStrings:
        return ArrowStrings(self.values, prefix, suffix)
