"""Any precomputed feature matrix with labels (linear-mode benchmarks on your own features).

``path`` is one of:

* ``.npz``: ``X_train``, ``Y_train``, ``X_test``, ``Y_test``; or ``X``, ``Y`` and ``split`` (strings
  ``train`` / ``test``). Optional ``class_names`` (or ``label_names``) and ``ids_train`` /
  ``ids_test`` (or ``ids``).
* ``.parquet``: list columns ``X`` (features) and ``Y`` (labels), a ``split`` column, optional
  ``id``; class names from the schema metadata key ``class_names`` (a JSON list).

Labels: ``encoding=01`` 0/1 (fully labelled, protocols apply) or ``ours`` (1 / -1 / 0).
Without class names the columns are called ``c0``, ``c1``, ...
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from bench import DatasetData, DatasetPlugin, Param, Split, register_dataset
from bench.io.errors import DataError, require_file
from bench.labels.encoding import LABEL_DTYPE, UNANN, from_01

ALLOWED = {"01": (0, 1), "ours": (-1, 0, 1)}


def _read_npz(path: Path) -> tuple[dict[str, dict], list[str] | None]:
    with np.load(path, allow_pickle=False) as npz:
        keys = set(npz.files)
        names = next((npz[k].astype(str).tolist() for k in ("class_names", "label_names") if k in keys), None)
        if {"X_train", "Y_train", "X_test", "Y_test"} <= keys:
            return {s: {"X": npz[f"X_{s}"], "Y": npz[f"Y_{s}"],
                        "ids": npz[f"ids_{s}"].astype(str).tolist() if f"ids_{s}" in keys else None}
                    for s in ("train", "test")}, names
        missing = [k for k in ("X", "Y", "split") if k not in keys]
        if missing:
            raise DataError("needs X_train, Y_train, X_test, Y_test, or X, Y and split", path, field=missing[0])
        split = npz["split"].astype(str)
        ids = npz["ids"].astype(str) if "ids" in keys else None
        return _by_split(npz["X"], npz["Y"], split, ids, path), names


def _read_parquet(path: Path) -> tuple[dict[str, dict], list[str] | None]:
    table = pq.read_table(path)
    for column in ("X", "Y", "split"):
        if column not in table.column_names:
            raise DataError(f"missing column (columns: {', '.join(table.column_names)})", path, field=column)
    meta = table.schema.metadata or {}
    names = json.loads(meta[b"class_names"]) if b"class_names" in meta else None
    rows = {c: table.column(c).to_pylist() for c in ("X", "Y")}
    try:
        X, Y = np.array(rows["X"], dtype=np.float32), np.array(rows["Y"])
    except ValueError:
        raise DataError("rows of X or Y have different lengths", path, field="X/Y") from None
    ids = np.array(table.column("id").to_pylist(), dtype=str) if "id" in table.column_names else None
    return _by_split(X, Y, np.array(table.column("split").to_pylist(), dtype=str), ids, path), names


def _by_split(X: np.ndarray, Y: np.ndarray, split: np.ndarray, ids: np.ndarray | None, path: Path) -> dict[str, dict]:
    unknown = ~np.isin(split, ["train", "test"])
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise DataError(f"row {row}: split '{split[row]}' is not train or test", path, field="split")
    return {s: {"X": X[split == s], "Y": Y[split == s], "ids": ids[split == s].tolist() if ids is not None else None}
            for s in ("train", "test")}


def to_split(part: dict, encoding: str, path: Path, split: str) -> Split:
    """Validated Split of one part: X (N, D) float32, Y (N, C) mapped to our encoding."""
    X, Y = np.asarray(part["X"]), np.asarray(part["Y"])
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise DataError(f"{split}: X {X.shape} and Y {Y.shape} must be 2-D with the same rows", path,
                        field=f"X/Y {split}")
    bad = ~np.isin(Y, ALLOWED[encoding])
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(f"{split} row {row}, class {col}: {Y[row, col].item()!r} is not one of {ALLOWED[encoding]} "
                        f"(encoding={encoding})", path, field="Y")
    labels = Y.astype(LABEL_DTYPE)
    ids = part["ids"] or [f"{split}-{i}" for i in range(X.shape[0])]
    return Split(from_01(labels) if encoding == "01" else labels, features=X.astype(np.float32), ids=ids)


@register_dataset("features")
class Features(DatasetPlugin):
    """A user's feature matrix and labels (.npz or .parquet)."""

    version = "1"
    description = "your own features: .npz (X_train/Y_train/X_test/Y_test or X/Y/split) or .parquet (X, Y, split)"
    modality = "features"
    parameters = {
        "path": Param(None, type=str, help=".npz or .parquet file"),
        "encoding": Param("01", choices=tuple(ALLOWED), help="01: fully labelled 0/1; ours: 1 / -1 / 0 un-annotated"),
    }

    def load(self) -> DatasetData:
        if not self.path:
            raise DataError("dataset 'features': parameter 'path' is required", field="path")
        path = require_file(Path(self.path).expanduser(), "feature file")
        if path.suffix not in (".npz", ".parquet"):
            raise DataError("expected a .npz or .parquet file", path)
        parts, names = _read_npz(path) if path.suffix == ".npz" else _read_parquet(path)
        splits = {s: to_split(parts[s], self.encoding, path, s) for s in ("train", "test")}
        num_classes = splits["train"].labels.shape[1]
        names = names or [f"c{i}" for i in range(num_classes)]
        for split in splits.values():
            if split.labels.shape[1] != len(names) or split.features.shape[1] != splits["train"].features.shape[1]:
                raise DataError(f"train/test shapes or class names ({len(names)}) disagree", path)
        return DatasetData(
            name="features", class_names=names, train=splits["train"], test=splits["test"],
            fully_labelled=bool((splits["train"].labels != UNANN).all()),
            meta={"path": str(path), "encoding": self.encoding},
        )
