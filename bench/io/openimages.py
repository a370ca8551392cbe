"""OpenImages class lists and the streaming reader of human-verified image-level labels.

Label files (V3 ``annotations-human.csv``, V6 ``*-annotations-human-imagelabels.csv``) have the
header ``ImageID,Source,LabelName,Confidence``; Confidence 1 = verified present (POS), 0 =
verified absent (NEG). ``read_human_labels`` reads the file in bounded line blocks
(``bench.io.csvblocks``), keeps per row only an 8-byte image key (16-hex-digit ids; other ids fall
back to arrow strings), a 4-byte class code and a flag, and builds a sparse CSR matrix: memory
grows with the number of label rows (about 30 bytes each at the peak), never with images x classes.
Rows are the images with at least one kept label, sorted by ImageID;
rows of classes outside the class list are dropped and counted. Files are UTF-8 (a byte-order
mark is accepted); a file with no label row, or none of a listed class, is refused.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.core.lazy_module import LazyModule
from bench.io.columns import Column, row_bound, row_index
from bench.io.csvblocks import read_csv_blocks
from bench.io.errors import DataError, require_file
from bench.io.idseq import ArrowStrings, HexIds, hex_keys
from bench.io.sparse_labels import csr_from_keys, triplet_keys
from bench.io.text import first_line, read_text

pa = LazyModule("pyarrow")
pc = LazyModule("pyarrow.compute")

if TYPE_CHECKING:  # scipy.sparse costs ~0.15 s to import: loaded only where a sparse matrix is built or read
    import scipy.sparse as sp

MID_PATTERN = re.compile(r"/[mg]/[0-9a-z_]+")
HUMAN_LABEL_FIELDS = ("ImageID", "LabelName", "Confidence")
ONE_TEXTS, ZERO_TEXTS = ("1", "1.0"), ("0", "0.0")  # pa.array of them at import would import pandas (0.2 s)


def read_class_list(path: str | Path) -> list[str]:
    """MIDs of a trainable-classes file (one per line, blank lines ignored), format-checked."""
    path = require_file(path, "class list")
    mids: list[str] = []
    seen: set[str] = set()
    for line_no, line in enumerate(read_text(path, "class list").split("\n"), start=1):
        mid = line.strip().split(",")[0]
        if not mid:
            continue
        if not MID_PATTERN.fullmatch(mid):
            raise DataError(f"{mid!r} is not an OpenImages MID (/m/... or /g/...)", path, line_no)
        if mid in seen:
            raise DataError(f"MID {mid!r} listed twice", path, line_no)
        seen.add(mid)
        mids.append(mid)
    if not mids:
        raise DataError("lists no class (empty class list)", path)
    return mids


class ClassIndex:
    """MID -> column. Fixed (a given class list: unknown MIDs map to -1) or growing (from labels)."""

    def __init__(self, mids: list[str] | None):
        self.fixed = mids is not None
        self.mids: list[str] = list(mids or [])
        self._code = {m: i for i, m in enumerate(self.mids)}

    def codes(self, words: list[str]) -> np.ndarray:
        if not self.fixed:
            for word in words:
                if word not in self._code:
                    self._code[word] = len(self.mids)
                    self.mids.append(word)
        return np.array([self._code.get(w, -1) for w in words], dtype=np.int32)


@dataclass
class HumanLabels:
    """One parsed split: labels (N, C) CSR int8, row ids, class MIDs and ingest statistics."""

    labels: sp.csr_array
    ids: HexIds | ArrowStrings
    classes: list[str]
    stats: dict[str, int] = field(default_factory=dict)


def check_mids(words: list[str], column: pa.Array, path: Path, first_line: int, field_name: str) -> None:
    """``DataError`` at the first row of ``column`` holding a value of ``words`` that is no MID."""
    bad = [w for w in words if not MID_PATTERN.fullmatch(w)]
    if bad:
        row = pc.index(column, bad[0]).as_py()
        raise DataError(f"{bad[0]!r} is not an OpenImages MID (/m/... or /g/...)", path, first_line + row, field_name)


def _check_header(path: Path) -> list[str]:
    """The column names of the header line; ``DataError`` when a required one is missing."""
    text = first_line(path, "label file")
    if not text.strip():
        raise DataError(f"empty file: expected the header {','.join(HUMAN_LABEL_FIELDS)}", path, 1)
    header = [h.strip().strip('"') for h in text.split(",")]
    for name in HUMAN_LABEL_FIELDS:
        if name not in header:
            raise DataError(f"missing column (header has {', '.join(map(repr, header))})", path, 1, name)
    return header


class _NotHexIds(Exception):
    """The file's ImageIDs are not all 16 hex digits: re-read keeping them as strings."""


def _stream(path: Path, header: list[str], index: ClassIndex, hex_mode: bool, block_size: int):
    """Per block: (ids: uint64 keys or arrow strings, class codes, positive flags, rows read)."""
    for line, table in read_csv_blocks(path, header, 1, block_size, HUMAN_LABEL_FIELDS):
        ids, mids, conf = (table.column(k).combine_chunks() for k in HUMAN_LABEL_FIELDS)
        encoded = pc.dictionary_encode(mids)
        words = encoded.dictionary.to_pylist()
        check_mids(words, mids, path, line, "LabelName")
        codes = index.codes(words)[np.asarray(encoded.indices)]
        positive = np.asarray(pc.is_in(conf, value_set=pa.array(ONE_TEXTS)))
        bad = ~(positive | np.asarray(pc.is_in(conf, value_set=pa.array(ZERO_TEXTS))))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{conf[i].as_py()!r} is not 0 or 1", path, line + i, "Confidence")
        empty = np.asarray(pc.equal(pc.utf8_length(ids), 0))
        if empty.any():
            raise DataError("empty ImageID", path, line + int(np.flatnonzero(empty)[0]), "ImageID")
        keep = codes >= 0
        keys = hex_keys(ids) if hex_mode else None
        if hex_mode and keys is None:
            raise _NotHexIds
        yield (keys[keep] if hex_mode else ids.filter(pa.array(keep))), codes[keep], positive[keep], table.num_rows


# Shortest possible data row: "<id>,,/m/x,0\n" with a 16-hex-digit id, or a 1-character one.
HEX_ROW_BYTES, ANY_ROW_BYTES = 25, 10


def _collect(stream, path: Path, hex_mode: bool) -> tuple[np.ndarray | list, np.ndarray, np.ndarray, int]:
    """Write the streamed pieces into preallocated columns: (ids, codes, flags, rows read)."""
    bound = row_bound(path, HEX_ROW_BYTES if hex_mode else ANY_ROW_BYTES)
    ids: Column | list = Column(bound, np.uint64) if hex_mode else []
    codes, flags, total = Column(bound, np.int32), Column(bound, bool), 0
    for piece_ids, piece_codes, piece_flags, rows in stream:
        ids.append(piece_ids)
        codes.append(piece_codes)
        flags.append(piece_flags)
        total += rows
    return (ids.values() if hex_mode else ids), codes.values(), flags.values(), total


def read_human_labels(path: str | Path, classes: list[str] | None, min_positives: int = 1,
                      block_size: int = 1 << 22) -> HumanLabels:
    """Parse a human-verified image-level labels CSV into a sparse matrix.

    ``classes``: the column order (MIDs); None derives it from the file: every MID with at least
    ``min_positives`` positive images, sorted by MID. Raises ``DataError`` (file, line, field) on a
    malformed row, a value that is no MID, or a Confidence other than 0/1.
    """
    path = require_file(path, "label file")
    header = _check_header(path)
    try:
        index = ClassIndex(classes)
        ids_read, codes, positive, total = _collect(_stream(path, header, index, True, block_size), path, True)
        hex_mode = True
    except _NotHexIds:
        index = ClassIndex(classes)
        ids_read, codes, positive, total = _collect(_stream(path, header, index, False, block_size), path, False)
        hex_mode = False
    if hex_mode:
        rows, uniques = row_index(ids_read)
        ids: HexIds | ArrowStrings = HexIds(uniques)
    else:
        all_ids = pa.chunked_array(ids_read, type=pa.string())
        uniques = pc.unique(all_ids)
        uniques = uniques.take(pc.sort_indices(uniques))
        rows = np.asarray(pc.index_in(all_ids, value_set=uniques).combine_chunks(), dtype=np.int64)
        ids = ArrowStrings(uniques)
    del ids_read
    kept_rows = int(codes.size)
    key = triplet_keys(rows, codes, positive, len(index.mids), out=rows)
    del rows, codes, positive
    labels, stats = csr_from_keys(key, (len(ids), len(index.mids)))
    stats.update(rows=total, unknown_class_rows=total - kept_rows)
    mids = index.mids
    if not index.fixed:
        mids = frequent_classes(labels, index.mids, min_positives)
        labels, ids = take_classes(labels, ids, index.mids, mids)
    stats.update(images=int(labels.shape[0]), labels=int(labels.nnz))
    if labels.shape[0] == 0:
        why = ("no label rows after the header" if total == 0 else
               f"none of its {total:,} label rows names a class of the class list")
        raise DataError(f"empty split: {why}", path)
    return HumanLabels(labels, ids, mids, stats)


def frequent_classes(labels: sp.csr_array, mids: list[str], min_positives: int) -> list[str]:
    """MIDs (sorted) of the columns with at least ``min_positives`` positive entries."""
    n_pos = np.bincount(labels.indices[labels.data > 0], minlength=len(mids))
    return sorted(m for m, n in zip(mids, n_pos) if n >= min_positives)


def take_classes(labels: sp.csr_array, ids: HexIds | ArrowStrings, mids: list[str],
                 keep: list[str]) -> tuple[sp.csr_array, HexIds | ArrowStrings]:
    """Columns ``keep`` (in that order) of ``labels`` whose columns are ``mids``; rows left
    without any label are dropped (with their ids)."""
    import scipy.sparse as sp

    position = {m: i for i, m in enumerate(mids)}
    labels = sp.csr_array(labels[:, [position[m] for m in keep]])
    labels.sort_indices()
    nonempty = np.flatnonzero(np.diff(labels.indptr) > 0)
    if nonempty.size < labels.shape[0]:
        labels, ids = sp.csr_array(labels[nonempty]), ids[nonempty]
    return labels, ids
