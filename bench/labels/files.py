"""Published partial-label files, read as-is into our encoding (the ``files`` protocol).

Formats:

* ``.npz`` / ``.npy``: an (N, C) array in our / Cole et al.'s encoding (1 positive, 0 unknown,
  -1 negative; a 0/1 array such as the Hill/SPLC ``hill_missing_labels_train2014.npz`` reads as
  1 -> positive, 0 -> un-annotated, exactly their "missing = 0") or, with ``encoding="csl"``, in
  CSL's (1 / 0 negative / -1 unknown). ``key`` names the array of an ``.npz`` (optional when it
  holds a single 2-D array). When ``ids`` are given and the ``.npz`` holds a 1-D id array
  (``image_ids``, ``train_image_ids`` or ``ids``), rows are aligned by id.
* text (``.txt``, ``.txt.gz``, anything else): Hill/SPLC's lists, one line per image
  ``COCO_train2014_XXXXXXXXXXXX.jpg,<space-separated positive class indices>``; every listed class
  is a positive, everything else un-annotated. Rows are aligned with ``ids`` (by file stem, or,
  when stems differ, by the number ending each stem: ``COCO_train2014_000000000009.jpg`` matches
  id ``9``), else kept in file order.

A row count, id set or class count that does not match raises ``PartialLabelFileError``.
"""
from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from bench.core.errors import InputError
from bench.core.params import suggest
from bench.labels.encoding import POS, LabelMatrix, from_cole, from_csl

if TYPE_CHECKING:  # scipy.sparse costs ~0.15 s to import: only a text label list is read into one
    import scipy.sparse as sp

ID_KEYS = ("image_ids", "train_image_ids", "ids")
_TRAILING_NUMBER = re.compile(r"(?:^|_)(\d+)$")


class PartialLabelFileError(InputError):
    """A partial-label file that cannot be read or does not match the dataset."""


def _stem(name: object) -> str:
    base = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] if "." in base else base


def _numbered(keys: list[str]) -> list:
    """Each key replaced by the number ending it (``COCO_train2014_000000000009`` -> 9, ``"9"`` -> 9)."""
    return [int(m.group(1)) if (m := _TRAILING_NUMBER.search(k)) else k for k in keys]


def _match_rows(file_ids: Sequence[object], ids: Sequence[object], where: str) -> np.ndarray:
    """``order`` with ``file row order[r]`` == dataset row r; every id matched exactly once."""
    if len(file_ids) != len(ids):
        raise PartialLabelFileError(f"{where}: {len(file_ids)} rows in the file, {len(ids)} in the dataset")
    file_keys: list = [_stem(f) for f in file_ids]
    id_keys: list = [_stem(i) for i in ids]
    if not set(id_keys) <= set(file_keys):
        file_keys, id_keys = _numbered(file_keys), _numbered(id_keys)
    position = {key: row for row, key in enumerate(file_keys)}
    for side, keys, unique in (("file", file_keys, len(position)), ("dataset", id_keys, len(set(id_keys)))):
        if unique != len(keys):
            raise PartialLabelFileError(f"{where}: {len(keys) - unique} duplicate image id(s) in the {side}")
    missing = [raw for raw, key in zip(ids, id_keys) if key not in position]
    if missing:
        raise PartialLabelFileError(
            f"{where}: {len(missing)} dataset id(s) not in the file; first: {missing[0]!r}"
        )
    return np.fromiter((position[key] for key in id_keys), dtype=np.int64, count=len(id_keys))


def _read_text(path: Path, num_classes: int) -> tuple[list[str], sp.csr_array]:
    """Image names and a sparse POS matrix from ``name,<class indices>`` lines."""
    import scipy.sparse as sp

    opener = gzip.open if path.suffix == ".gz" else open
    names, indptr, cols = [], [0], []
    with opener(path, "rt", encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            name, sep, rest = line.rstrip("\n").partition(",")
            try:
                classes = sorted({int(tok) for tok in rest.split()})
            except ValueError:
                classes = None
            if not sep or not name.strip() or classes is None:
                raise PartialLabelFileError(
                    f"{path}:{line_no}: expected '<image>,<space-separated class indices>'"
                )
            if classes and not (0 <= classes[0] and classes[-1] < num_classes):
                raise PartialLabelFileError(f"{path}:{line_no}: class index outside 0..{num_classes - 1}")
            names.append(name.strip())
            cols.extend(classes)
            indptr.append(len(cols))
    data = np.full(len(cols), POS, dtype=np.int8)
    matrix = sp.csr_array((data, np.asarray(cols, dtype=np.int64), np.asarray(indptr, dtype=np.int64)),
                          shape=(len(names), num_classes))
    return names, matrix


def _read_array(path: Path, key: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The label array (and the file's own row ids when an ``.npz`` has them)."""
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False), None
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    if "metadata_json" in arrays and "labels_indptr" in arrays:
        raise PartialLabelFileError(f"{path}: this is a bench manifest (bench data prepare --out); use it as "
                                    f"+manifest[path={path}], which also keeps its split")
    if key is None:
        candidates = [name for name, arr in arrays.items() if arr.ndim == 2]
        if len(candidates) != 1:
            listed = ", ".join(candidates) if candidates else "none (it holds no 2-D array)"
            raise PartialLabelFileError(f"{path}: give key=, one of the 2-D arrays: {listed}")
        key = candidates[0]
    if key not in arrays:
        raise PartialLabelFileError(
            f"{path}: no array '{key}'{suggest(key, list(arrays))}; has {', '.join(arrays)}"
        )
    file_ids = next((arrays[k] for k in ID_KEYS if k in arrays and arrays[k].ndim == 1), None)
    return arrays[key], file_ids


def read_partial_label_file(path: str | Path, num_rows: int, num_classes: int, key: str | None = None,
                            encoding: str = "ours", ids: Sequence[object] | None = None) -> LabelMatrix:
    """The file's partial labels in our encoding, rows in the dataset's order: a dense int8 array
    for ``.npz``/``.npy``, a sparse CSR for text lists."""
    path = Path(path)
    if not path.is_file():
        raise PartialLabelFileError(f"{path}: no such file")
    where = str(path) if key is None else f"{path}[{key}]"
    if path.suffix in (".npz", ".npy"):
        raw, file_ids = _read_array(path, key)
        if raw.ndim != 2:
            raise PartialLabelFileError(
                f"{where}: expected a 2-D (samples x classes) array, got shape {raw.shape}"
            )
        labels = from_csl(raw, where) if encoding == "csl" else from_cole(raw, where)
    else:
        file_ids, labels = _read_text(path, num_classes)
    if labels.shape[1] != num_classes:
        raise PartialLabelFileError(f"{where}: {labels.shape[1]} classes, the dataset has {num_classes}")
    if ids is not None and file_ids is not None:
        labels = labels[_match_rows(list(file_ids), list(ids), where)]
    elif labels.shape[0] != num_rows:
        raise PartialLabelFileError(f"{where}: {labels.shape[0]} rows in the file, {num_rows} in the dataset")
    return labels
