"""Checks every dataset loader runs on what it read, each failing as one ``DataError`` line.

* ``require_unique``: ids (or class names, image paths) listed once, naming the first repeated ones;
* ``require_disjoint``: no id in both the training and the test split (test leakage);
* ``require_rows``: a split is not empty;
* ``check_features``: a numeric 2-D feature array, finite and within the float32 range (the first
  bad value named by array, row and column).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from bench.core.lazy_module import LazyModule
from bench.io.errors import DataError
from bench.io.idseq import ArrowStrings, HexIds

pa = LazyModule("pyarrow")
pc = LazyModule("pyarrow.compute")

SHOWN = 3  # offending values named in a message
FLOAT32_MAX = float(np.finfo(np.float32).max)
CHUNK = 1 << 22  # values checked at a time by check_features


def _shown(values: Iterable) -> str:
    values = list(values)
    text = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values[:SHOWN])
    return text + (", ..." if len(values) > SHOWN else "")


def duplicates(values: Iterable) -> list:
    """The values listed more than once, in the order of their second listing."""
    seen: set = set()
    repeated: list = []
    flagged: set = set()
    for value in values:
        if value in seen and value not in flagged:
            repeated.append(value)
            flagged.add(value)
        seen.add(value)
    return repeated


def require_unique(values: Sequence, path: str | Path | None, field: str | None, what: str) -> None:
    """``DataError`` when a value of ``values`` appears more than once (``what``: e.g. 'image id')."""
    if isinstance(values, HexIds):
        keys = np.sort(values.keys)
        if keys.size and (repeat := keys[1:][keys[1:] == keys[:-1]]).size:
            raise DataError(f"{what} {_shown(f'{int(k):016x}' for k in np.unique(repeat))} listed more than once",
                            path, field=field)
        return
    if isinstance(values, ArrowStrings):
        counts = pc.value_counts(values.values)
        repeat = counts.field(0).filter(pc.greater(counts.field(1), 1)).to_pylist()
        if repeat:
            raise DataError(f"{what} {_shown(repeat)} listed more than once", path, field=field)
        return
    if len(set(values)) != len(values):
        repeat = duplicates(values)
        counts = Counter(values)
        raise DataError(f"{what} {_shown(repeat)} listed more than once ({counts[repeat[0]]} times)", path,
                        field=field)


def overlap(train: Sequence, test: Sequence) -> list:
    """The values of ``test`` that are also in ``train``, in test order (compact sequences too)."""
    if isinstance(train, HexIds) and isinstance(test, HexIds):
        shared = np.isin(test.keys, train.keys)
        return [f"{int(k):016x}" for k in test.keys[shared]]
    if isinstance(train, (HexIds, ArrowStrings)) or isinstance(test, (HexIds, ArrowStrings)):
        a = train.values if isinstance(train, ArrowStrings) else pa.array(list(train), pa.string())
        b = test.values if isinstance(test, ArrowStrings) else pa.array(list(test), pa.string())
        return b.filter(pc.is_in(b, value_set=a)).to_pylist()
    seen = set(train)
    return [v for v in test if v in seen]


def require_disjoint(train: Sequence, test: Sequence, path: str | Path | None, field: str | None,
                     what: str) -> None:
    """``DataError`` (naming ``path``, usually the test file) when a ``what`` is in both splits."""
    shared = overlap(train, test)
    if shared:
        raise DataError(f"{len(shared):,} {what}(s) in both the training and the test split (test leakage), "
                        f"first: {_shown(shared)}", path, field=field)


def require_rows(count: int, path: str | Path | None, split: str, what: str = "rows") -> None:
    """``DataError`` when the ``split`` has no rows."""
    if count == 0:
        name = {"train": "training", "test": "test"}.get(split, split)
        raise DataError(f"the {name} split is empty (0 {what})", path)


def check_features(values: np.ndarray, path: str | Path, array: str) -> None:
    """``DataError`` unless ``values`` is a 2-D numeric array whose values are finite and within the
    float32 range (a larger float64 would silently become infinity as float32), naming ``array``
    and the first bad row and column."""
    values = np.asarray(values)
    if values.dtype.kind not in "biuf":
        raise DataError(f"features must be numbers, got dtype {values.dtype}", path, field=array)
    if values.ndim != 2:
        raise DataError(f"features must be a 2-D (rows x features) array, got shape {values.shape}", path,
                        field=array)
    if values.dtype.kind != "f":
        return
    step = max(1, CHUNK // max(values.shape[1], 1))  # bounded temporaries for a large matrix
    total, first = 0, None
    for start in range(0, values.shape[0], step):
        block = values[start:start + step]
        bad = ~np.isfinite(block)
        if values.dtype.itemsize > 4:
            with np.errstate(invalid="ignore"):
                bad |= np.abs(block) > FLOAT32_MAX
        count = int(np.count_nonzero(bad))
        if count and first is None:
            row, col = (int(i) for i in np.argwhere(bad)[0])
            first = (start + row, col)
        total += count
    if first is not None:
        row, col = first
        raise DataError(f"{total:,} value(s) not finite or beyond the float32 range; first at row {row}, "
                        f"column {col}: {values[row, col].item()!r}", path, field=array)
