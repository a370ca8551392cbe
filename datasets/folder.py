"""Any folder of images with a CSV of labels (benchmark your own data without code).

``{root}/{labels}`` (default ``labels.csv``) has a header ``image,split,<class 1>,<class 2>,...``:
``image`` a path relative to root, ``split`` ``train`` or ``test``, then one column per class in
the column order wanted. Values: ``encoding=01`` (default) 1 present / 0 absent, a fully labelled
dataset on which the simulation protocols apply; ``encoding=ours`` 1 positive / -1 negative /
0 un-annotated (already partial; fully labelled only if no 0 remains in the training rows).
Rows keep the file order within each split.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from bench import DatasetData, ImageDataset, Param, Split, register_dataset
from bench.io.errors import DataError, require_dir, require_file
from bench.labels.encoding import LABEL_DTYPE, UNANN, from_01

ALLOWED = {"01": (0, 1), "ours": (-1, 0, 1)}


def parse_label_table(table: pd.DataFrame, class_names: list[str], encoding: str, path: str) -> np.ndarray:
    """The class columns as int8 in our encoding; ``DataError`` at the first bad cell (line, field)."""
    values = table[class_names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isin(values, ALLOWED[encoding])
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(f"'{table.iloc[row][class_names[col]]}' is not one of {ALLOWED[encoding]} "
                        f"(encoding={encoding})", path, int(row) + 2, class_names[col])
    labels = values.astype(LABEL_DTYPE)
    return from_01(labels) if encoding == "01" else labels


@register_dataset("folder")
class Folder(ImageDataset):
    """A user's image folder with a CSV of image-level labels."""

    version = "1"
    description = "your own images + a CSV (image, split, one 0/1 or 1/-1/0 column per class)"
    parameters = {
        "root": Param(None, type=str, help="folder holding the images and the label CSV"),
        "labels": Param("labels.csv", help="label CSV, relative to root"),
        "encoding": Param("01", choices=tuple(ALLOWED), help="01: fully labelled 0/1; ours: 1 / -1 / 0 un-annotated"),
    }

    def read(self) -> DatasetData:
        root = require_dir(self.root, "the image folder", "dataset 'folder'")
        path = require_file(root / self.labels, "label CSV")
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, UnicodeDecodeError) as err:
            raise DataError(f"malformed CSV: {' '.join(str(err).split())}", path) from None
        for column in ("image", "split"):
            if column not in table.columns:
                raise DataError(f"missing column (header: {', '.join(table.columns)})", path, 1, column)
        class_names = [c for c in table.columns if c not in ("image", "split")]
        if not class_names:
            raise DataError("no class columns after image and split", path, 1)
        unknown = ~table["split"].isin(["train", "test"])
        if unknown.any():
            row = int(np.flatnonzero(unknown.to_numpy())[0])
            raise DataError(f"split '{table['split'].iloc[row]}' is not train or test", path, row + 2, "split")
        labels = parse_label_table(table, class_names, self.encoding, str(path))
        splits = {}
        for split in ("train", "test"):
            mask = (table["split"] == split).to_numpy()
            if not mask.any():
                raise DataError(f"no {split} rows", path, field="split")
            images = table["image"][mask].tolist()
            splits[split] = Split(labels[mask], images=[str(root / i) for i in images], ids=images)
        data = DatasetData(
            name="folder", class_names=class_names, train=splits["train"], test=splits["test"],
            fully_labelled=bool((splits["train"].labels != UNANN).all()),
            meta={"labels": str(path), "encoding": self.encoding},
        )
        return data
