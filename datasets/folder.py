"""Any folder of images with a CSV of labels (benchmark your own data without code).

``{root}/{labels}`` (default ``labels.csv``) has a header ``image,split,<class 1>,<class 2>,...``:
``image`` a path relative to root, ``split`` ``train`` or ``test``, then one column per class in
the column order wanted. Values: ``encoding=01`` (default) 1 present / 0 absent, a fully labelled
dataset on which the simulation protocols apply; ``encoding=ours`` 1 positive / -1 negative /
0 un-annotated (already partial; fully labelled only if no 0 remains in the training rows).
Rows keep the file order within each split.

The CSV is UTF-8 (a byte-order mark is accepted); a header naming a column twice, an image listed
twice (in one split, or in both: test leakage) and an image path that resolves outside ``root``
(unless ``allow_outside_root=true``) are refused with the line and column at fault.
"""
from __future__ import annotations

import csv
import io
import os
from typing import TYPE_CHECKING

import numpy as np

from bench import DatasetData, ImageDataset, Param, Split, register_dataset
from bench.io.errors import DataError, require_dir, require_file
from bench.io.roots import ALLOW_OUTSIDE_ROOT, require_inside_root
from bench.io.text import decode_utf8, read_bytes
from bench.labels.encoding import LABEL_DTYPE, UNANN, from_01

if TYPE_CHECKING:  # pandas is imported when a CSV is read: 0.2 s of every run's plugin discovery
    import pandas as pd

ALLOWED = {"01": (0, 1), "ours": (-1, 0, 1)}


def parse_label_table(table: pd.DataFrame, class_names: list[str], encoding: str, path: str,
                      lines: np.ndarray | None = None) -> np.ndarray:
    """The class columns as int8 in our encoding; ``DataError`` at the first bad cell (line, field).
    ``lines`` are the rows' line numbers (default: one line per row after the header)."""
    import pandas as pd

    values = table[class_names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isin(values, ALLOWED[encoding])
    if bad.any():
        row, col = np.argwhere(bad)[0]
        line = int(lines[row]) if lines is not None else int(row) + 2
        raise DataError(f"{table.iloc[row][class_names[col]]!r} is not one of {ALLOWED[encoding]} "
                        f"(encoding={encoding})", path, line, class_names[col])
    labels = values.astype(LABEL_DTYPE)
    return from_01(labels) if encoding == "01" else labels


def read_label_csv(path) -> tuple[pd.DataFrame, np.ndarray]:
    """(table of strings, line number of each row) of a label CSV; ``DataError`` naming the line
    for undecodable bytes, an empty file, a header naming a column twice or a row of the wrong width."""
    import pandas as pd

    text = decode_utf8(read_bytes(path, "label CSV"), path)
    if not text.strip():
        raise DataError("empty file: expected a header line 'image,split,<class>,...'", path, 1)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows, lines = [], []
    try:
        header = next(reader)
        for row in reader:
            if not row or row == [""]:
                continue
            if len(row) != len(header):
                raise DataError(f"malformed CSV: expected {len(header)} fields, got {len(row)}", path,
                                reader.line_num)
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as err:
        raise DataError(f"malformed CSV: {err}", path, reader.line_num) from None
    for position, name in enumerate(header):
        if not name.strip():
            raise DataError(f"column {position + 1} of the header has no name", path, 1)
        if name in header[:position]:
            raise DataError(f"column {name!r} appears more than once in the header", path, 1, name)
    table = pd.DataFrame(rows, columns=header, dtype=str) if rows else pd.DataFrame(columns=header, dtype=str)
    return table, np.array(lines, dtype=np.int64)


def _check_images_listed_once(images: list[str], splits: list[str], lines: np.ndarray, path) -> None:
    first: dict[str, int] = {}
    for i, image in enumerate(images):
        if not image:
            raise DataError("empty image path", path, int(lines[i]), "image")
        key = os.path.normpath(image)
        if key in first:
            j = first[key]
            where = (f"in both {splits[j]} (line {lines[j]}) and {splits[i]}: test leakage" if splits[j] != splits[i]
                     else f"twice in {splits[i]} (first on line {lines[j]})")
            raise DataError(f"image {image!r} listed {where}", path, int(lines[i]), "image")
        first[key] = i


@register_dataset("folder")
class Folder(ImageDataset):
    """A user's image folder with a CSV of image-level labels."""

    version = "1"
    description = "your own images + a CSV (image, split, one 0/1 or 1/-1/0 column per class)"
    parameters = {
        "root": Param(None, type=str, help="folder holding the images and the label CSV"),
        "labels": Param("labels.csv", help="label CSV, relative to root"),
        "encoding": Param("01", choices=tuple(ALLOWED), help="01: fully labelled 0/1; ours: 1 / -1 / 0 un-annotated"),
        "allow_outside_root": ALLOW_OUTSIDE_ROOT,
    }

    def read(self) -> DatasetData:
        root = require_dir(self.root, "the image folder", "dataset 'folder'")
        path = require_file(root / self.labels, "label CSV")
        table, lines = read_label_csv(path)
        for column in ("image", "split"):
            if column not in table.columns:
                raise DataError(f"missing column (header: {', '.join(map(repr, table.columns))})", path, 1, column)
        class_names = [c for c in table.columns if c not in ("image", "split")]
        if not class_names:
            raise DataError("no class columns after image and split", path, 1)
        unknown = ~table["split"].isin(["train", "test"])
        if unknown.any():
            row = int(np.flatnonzero(unknown.to_numpy())[0])
            raise DataError(f"split {table['split'].iloc[row]!r} is not train or test", path, int(lines[row]),
                            "split")
        _check_images_listed_once(table["image"].tolist(), table["split"].tolist(), lines, path)
        labels = parse_label_table(table, class_names, self.encoding, str(path), lines)
        splits = {}
        for split in ("train", "test"):
            mask = (table["split"] == split).to_numpy()
            if not mask.any():
                raise DataError(f"no {split} rows", path, field="split")
            images = table["image"][mask].tolist()
            paths = [str(root / i) for i in images]
            require_inside_root(paths, root, self.allow_outside_root, path, "image",
                                lambda i, images=images: f"image {images[i]!r}",
                                lambda i, rows=lines[mask]: int(rows[i]))
            splits[split] = Split(labels[mask], images=paths, ids=images)
        data = DatasetData(
            name="folder", class_names=class_names, train=splits["train"], test=splits["test"],
            fully_labelled=bool((splits["train"].labels != UNANN).all()),
            meta={"labels": str(path), "encoding": self.encoding},
        )
        return data
