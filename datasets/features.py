"""Any precomputed feature matrix with labels (linear-mode benchmarks on your own features).

``path`` is one of:

* ``.npz``: ``X_train``, ``Y_train``, ``X_test``, ``Y_test``; or ``X``, ``Y`` and ``split`` (strings
  ``train`` / ``test``). Optional ``class_names`` (or ``label_names``) and ``ids_train`` /
  ``ids_test`` (or ``ids``).
* ``.parquet``: list columns ``X`` (features) and ``Y`` (labels), a ``split`` column, optional
  ``id``; class names from the schema metadata key ``class_names`` (a JSON list).

Labels: ``encoding=01`` 0/1 (fully labelled, protocols apply) or ``ours`` (1 / -1 / 0).
Without class names the columns are called ``c0``, ``c1``, ...

Refused at load, naming the file and the array (with row and column where one is at fault): an
unreadable archive, a non-numeric, non-finite or beyond-float32 feature, a label outside the
encoding, an empty split, repeated class names, repeated ids or an id in both splits.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench import DatasetData, DatasetPlugin, LazyModule, Param, Split, register_dataset
from bench.io.checks import check_features, require_disjoint, require_rows, require_unique
from bench.io.errors import DataError, require_file
from bench.io.npz import read_npz
from bench.labels.encoding import LABEL_DTYPE, UNANN, from_01

pa = LazyModule("pyarrow")
pq = LazyModule("pyarrow.parquet")

ALLOWED = {"01": (0, 1), "ours": (-1, 0, 1)}


def _names(values: np.ndarray, path: Path, key: str) -> list[str]:
    if values.ndim != 1 or values.dtype.kind not in "USiu":
        raise DataError(f"class names must be a 1-D array of strings, got {values.dtype} {values.shape}", path,
                        field=key)
    names = values.astype(str).tolist()
    if (empty := next((i for i, n in enumerate(names) if not n.strip()), None)) is not None:
        raise DataError(f"class {empty} has an empty name", path, field=key)
    require_unique(names, path, key, "class name")
    return names


def _ids(values: np.ndarray, rows: int, path: Path, key: str) -> list[str]:
    if values.ndim != 1 or values.shape[0] != rows or values.dtype.kind not in "USiu":
        raise DataError(f"ids must be a 1-D array of {rows} strings or integers, got {values.dtype} {values.shape}",
                        path, field=key)
    ids = values.astype(str).tolist()
    require_unique(ids, path, key, "id")
    return ids


def _part(X: np.ndarray, Y: np.ndarray, ids: list[str] | None, rows: np.ndarray, fields: tuple[str, str]) -> dict:
    return {"X": X, "Y": Y, "ids": ids, "rows": rows, "fields": fields}


def _read_npz(path: Path) -> tuple[dict[str, dict], list[str] | None]:
    arrays = read_npz(path, "feature file")
    keys = set(arrays)
    names = next((_names(arrays[k], path, k) for k in ("class_names", "label_names") if k in keys), None)
    if {"X_train", "Y_train", "X_test", "Y_test"} <= keys:
        parts = {}
        for s in ("train", "test"):
            X, Y = arrays[f"X_{s}"], arrays[f"Y_{s}"]
            check_features(X, path, f"X_{s}")
            ids = _ids(arrays[f"ids_{s}"], X.shape[0], path, f"ids_{s}") if f"ids_{s}" in keys else None
            parts[s] = _part(X, Y, ids, np.arange(X.shape[0]), (f"X_{s}", f"Y_{s}"))
        return parts, names
    missing = [k for k in ("X", "Y", "split") if k not in keys]
    if missing:
        raise DataError("needs X_train, Y_train, X_test, Y_test, or X, Y and split", path, field=missing[0])
    X = arrays["X"]
    check_features(X, path, "X")
    split = arrays["split"]
    if split.ndim != 1 or split.shape[0] != X.shape[0] or split.dtype.kind not in "US":
        raise DataError(f"split must be a 1-D array of {X.shape[0]} strings (one per row of X), got {split.dtype} "
                        f"{split.shape}", path, field="split")
    ids = _ids(arrays["ids"], X.shape[0], path, "ids") if "ids" in keys else None
    return _by_split(X, arrays["Y"], split.astype(str), ids, path, ("X", "Y")), names


def _read_parquet(path: Path) -> tuple[dict[str, dict], list[str] | None]:
    try:
        return _parse_parquet(path)
    except UnicodeDecodeError:  # pyarrow decodes column names and strings lazily, when asked
        raise DataError("holds text that is not UTF-8 (a column name or a string value)", path) from None


def _parse_parquet(path: Path) -> tuple[dict[str, dict], list[str] | None]:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as err:
        raise DataError(f"not a readable Parquet file ({' '.join(str(err).split())})", path) from None
    for column in table.column_names:  # full validation: e.g. strings that are not UTF-8
        try:
            table.column(column).validate(full=True)
        except pa.ArrowException as err:
            raise DataError(f"invalid values ({' '.join(str(err).split())})", path, field=column) from None
    for column in ("X", "Y", "split"):
        if column not in table.column_names:
            raise DataError(f"missing column (columns: {', '.join(map(repr, table.column_names))})", path,
                            field=column)
        if table.column(column).null_count:
            row = int(np.flatnonzero(np.asarray(table.column(column).is_null()))[0])
            raise DataError(f"row {row} is null", path, field=column)
    meta = table.schema.metadata or {}
    names = None
    if b"class_names" in meta:
        try:
            names = json.loads(meta[b"class_names"])
        except (json.JSONDecodeError, UnicodeDecodeError):
            names = None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise DataError("schema metadata 'class_names' must be a JSON list of strings", path, field="class_names")
        names = _names(np.array(names, dtype=str), path, "class_names")
    rows = {c: table.column(c).to_pylist() for c in ("X", "Y")}
    try:
        X = np.array(rows["X"], dtype=np.float64)
        Y = np.array(rows["Y"])
    except (ValueError, TypeError):
        raise DataError("rows of X or Y are not lists of numbers of one length", path, field="X/Y") from None
    check_features(X, path, "X")
    X = X.astype(np.float32)
    ids = None
    if "id" in table.column_names:
        ids = _ids(np.array(table.column("id").to_pylist(), dtype=str), X.shape[0], path, "id")
    split = np.array(table.column("split").to_pylist(), dtype=str)
    return _by_split(X, Y, split, ids, path, ("X", "Y")), names


def _by_split(X: np.ndarray, Y: np.ndarray, split: np.ndarray, ids: list[str] | None, path: Path,
              fields: tuple[str, str]) -> dict[str, dict]:
    unknown = ~np.isin(split, ["train", "test"])
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise DataError(f"row {row}: split {split[row]!r} is not train or test", path, field="split")
    if Y.ndim < 1 or Y.shape[0] != X.shape[0]:
        raise DataError(f"X has {X.shape[0]} rows but Y has shape {Y.shape}", path, field=fields[1])
    parts = {}
    for s in ("train", "test"):
        rows = np.flatnonzero(split == s)
        parts[s] = _part(X[rows], Y[rows], [ids[i] for i in rows] if ids is not None else None, rows, fields)
    return parts


def to_split(part: dict, encoding: str, path: Path, split: str) -> Split:
    """Validated Split of one part: X (N, D) float32, Y (N, C) mapped to our encoding."""
    X, Y = np.asarray(part["X"]), np.asarray(part["Y"])
    x_field, y_field = part.get("fields", (f"X_{split}", f"Y_{split}"))
    rows = part.get("rows")
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise DataError(f"{split}: X {X.shape} and Y {Y.shape} must be 2-D with the same rows", path,
                        field=f"X/Y {split}")
    require_rows(X.shape[0], path, split)
    if X.shape[1] == 0:
        raise DataError(f"{split}: no feature columns", path, field=x_field)
    if Y.shape[1] == 0:
        raise DataError(f"{split}: no class columns", path, field=y_field)
    if Y.dtype.kind not in "biuf":
        raise DataError(f"labels must be numbers, got dtype {Y.dtype}", path, field=y_field)
    bad = ~np.isin(Y, ALLOWED[encoding])
    if bad.any():
        row, col = np.argwhere(bad)[0]
        shown = int(rows[row]) if rows is not None else int(row)
        raise DataError(f"{split} row {shown}, class {col}: {Y[row, col].item()!r} is not one of {ALLOWED[encoding]} "
                        f"(encoding={encoding})", path, field=y_field)
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
        if parts["train"]["ids"] is not None and parts["test"]["ids"] is not None:
            require_disjoint(splits["train"].ids, splits["test"].ids, path, "ids", "id")
        num_classes = splits["train"].labels.shape[1]
        names = names or [f"c{i}" for i in range(num_classes)]
        for s, split in splits.items():
            if split.labels.shape[1] != len(names):
                raise DataError(f"{s}: {split.labels.shape[1]} label columns but {len(names)} class names", path,
                                field=parts[s]["fields"][1])
            if split.features.shape[1] != splits["train"].features.shape[1]:
                raise DataError(f"{s}: {split.features.shape[1]} feature columns, the training split has "
                                f"{splits['train'].features.shape[1]}", path, field=parts[s]["fields"][0])
        return DatasetData(
            name="features", class_names=names, train=splits["train"], test=splits["test"],
            fully_labelled=bool((splits["train"].labels != UNANN).all()),
            meta={"path": str(path), "encoding": self.encoding},
        )
