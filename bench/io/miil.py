"""Reader of the MIIL / CSL OpenImages-V6 ``data.csv`` layout.

Layout (as parsed by third-party scripts; the format itself is unpublished, see
docs/methods.md §3.4): column 0 the image file name, column 1 a Python-list literal of
positive MIDs (``['/m/01g317', '/m/09j2d']``), column 2 a list literal of negative MIDs, the last
column the split (``train``; ``val`` is the test split, ``test`` is accepted as a synonym). A header
line is detected (its second field does not start with ``[``) and skipped. Rows keep the file
order; rows left without any label in the class list are dropped (counted in ``stats``).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from bench.core.lazy_module import LazyModule
from bench.io.csvblocks import read_csv_blocks
from bench.io.errors import DataError, require_file
from bench.io.idseq import ArrowStrings
from bench.io.openimages import MID_PATTERN, ClassIndex, HumanLabels, frequent_classes, take_classes
from bench.io.sparse_labels import csr_from_triplets
from bench.io.text import first_line

pa = LazyModule("pyarrow")
pc = LazyModule("pyarrow.compute")

SPLITS = {"train": "train", "val": "test", "test": "test"}
_LIST_CHARS = r"[\[\]'\"\s]"


def _layout(path: Path) -> tuple[bool, int]:
    """(has a header line, number of columns), from the first line (UTF-8, BOM accepted)."""
    text = first_line(path, "MIIL data.csv")
    if not text.strip():
        raise DataError("empty first line: expected a header or a row (image, positives, negatives, ..., split)",
                        path, 1)
    try:
        fields = next(csv.reader([text]))
    except csv.Error as err:
        raise DataError(f"malformed CSV: {err}", path, 1) from None
    if len(fields) < 4:
        raise DataError("expected at least 4 columns (image, positives, negatives, ..., split), "
                        f"got {len(fields)}",
                        path, 1)
    return not fields[1].lstrip().startswith("["), len(fields)


def _mid_triplets(column: pa.Array, index: ClassIndex, path: Path, line: int, name: str):
    lists = pc.split_pattern(pc.replace_substring_regex(column, _LIST_CHARS, ""), ",")
    flat, parent = pc.list_flatten(lists), np.asarray(pc.list_parent_indices(lists))
    present = np.asarray(pc.not_equal(flat, ""))
    flat, parent = flat.filter(pa.array(present)), parent[present]
    encoded = pc.dictionary_encode(flat)
    words = encoded.dictionary.to_pylist()
    bad = [w for w in words if not MID_PATTERN.fullmatch(w)]
    if bad:
        row = int(parent[pc.index(flat, bad[0]).as_py()])
        raise DataError(f"{bad[0]!r} is not an OpenImages MID (/m/... or /g/...)", path, line + row, name)
    return parent, index.codes(words)[np.asarray(encoded.indices)]


def read_miil_csv(path: str | Path, classes: list[str] | None, min_positives: int = 1,
                  block_size: int = 1 << 22) -> dict[str, HumanLabels]:
    """Parse ``data.csv`` into ``{"train": HumanLabels, "test": HumanLabels}`` (sparse labels).

    ``classes`` fixes the column order; None derives it from the training rows (MIDs with at least
    ``min_positives`` positives, sorted).
    """
    path = require_file(path, "MIIL data.csv")
    header, num_columns = _layout(path)
    index = ClassIndex(classes)
    acc = {s: {"names": [], "rows": [], "codes": [], "pos": [], "n": 0} for s in ("train", "test")}
    names = [f"f{i}" for i in range(num_columns)]
    for line, table in read_csv_blocks(path, names, int(header), block_size):
        _add_batch(table, acc, index, path, line)
    return _finish(acc, index, min_positives, path)


def _add_batch(table: pa.Table, acc: dict, index: ClassIndex, path: Path, line: int) -> None:
    """Route one block's rows to their split and append their (row, class, flag) triplets."""
    columns = [table.column(i).combine_chunks() for i in range(table.num_columns)]
    split = columns[-1].to_numpy(zero_copy_only=False)
    unknown = ~np.isin(split, list(SPLITS))
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise DataError(f"split {split[i]!r} is not train or val", path, line + i, "split")
    for name in ("train", "test"):
        mask = np.isin(split, [k for k, v in SPLITS.items() if v == name])
        row_in_split = acc[name]["n"] + np.cumsum(mask) - 1
        acc[name]["names"].append(columns[0].filter(pa.array(mask)))
        acc[name]["n"] += int(mask.sum())
        for column, flag, field_name in ((columns[1], True, "positives"), (columns[2], False, "negatives")):
            parent, codes = _mid_triplets(column, index, path, line, field_name)
            take = mask[parent] & (codes >= 0)
            acc[name]["rows"].append(row_in_split[parent[take]])
            acc[name]["codes"].append(codes[take])
            acc[name]["pos"].append(np.full(int(take.sum()), flag))


def _finish(acc: dict, index: ClassIndex, min_positives: int, path: Path) -> dict[str, HumanLabels]:
    out: dict[str, HumanLabels] = {}
    for name, part in acc.items():
        names = pa.chunked_array(part["names"], type=pa.string())
        if pc.count_distinct(names).as_py() != len(names):
            counts = pc.value_counts(names)
            dup = counts.field(0).filter(pc.greater(counts.field(1), 1))[0].as_py()
            raise DataError(f"image {dup!r} listed more than once in the {name} split", path, field="image")
        labels, stats = csr_from_triplets(np.concatenate(part["rows"] or [np.zeros(0, np.int64)]),
                                          np.concatenate(part["codes"] or [np.zeros(0, np.int32)]),
                                          np.concatenate(part["pos"] or [np.zeros(0, bool)]),
                                          (len(names), len(index.mids)))
        out[name] = HumanLabels(labels, ArrowStrings(names), index.mids, dict(stats, listed_images=len(names)))
    keep = index.mids if index.fixed else frequent_classes(out["train"].labels, index.mids, min_positives)
    for name, item in out.items():
        item.labels, item.ids = take_classes(item.labels, item.ids, index.mids, keep)
        item.classes = keep
        item.stats.update(images=int(item.labels.shape[0]), labels=int(item.labels.nnz))
        if item.labels.shape[0] == 0:
            raise DataError(f"empty {name} split: no {name} row with a label of a listed class "
                            f"({item.stats['listed_images']:,} rows listed)", path, field="split")
    return out
