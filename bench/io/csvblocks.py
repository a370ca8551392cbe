"""Bounded-memory CSV streaming: whole-line blocks of the file, each parsed by pyarrow.

pyarrow's own streaming reader reads the file ahead of the consumer (about the whole file for a
fast reader), so its memory grows with the file. Here the file is read ``block_size`` bytes at a
time, cut after the last line break, and each block is parsed on its own (``pyarrow.csv.read_csv``
on the buffer); memory stays a few blocks whatever the file size. Fields must not contain line
breaks (true of the OpenImages label files). A leading UTF-8 byte-order mark is skipped. Bad rows
and bytes that are not UTF-8 raise ``DataError`` with their line number (and field, when known).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

from bench.core.lazy_module import LazyModule
from bench.io.errors import DataError
from bench.io.text import BOM, undecodable

pa = LazyModule("pyarrow")
pacsv = LazyModule("pyarrow.csv")


def line_blocks(path: str | Path, block_size: int, skip_lines: int) -> Iterator[tuple[int, bytes]]:
    """(number of the block's first line, block of whole lines) after the first ``skip_lines``."""
    with open(path, "rb") as handle:
        if handle.read(len(BOM)) != BOM:
            handle.seek(0)
        for _ in range(skip_lines):
            handle.readline()
        line, rest = skip_lines + 1, b""
        while True:
            data = handle.read(block_size)
            if not data:
                break
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            block, rest = data[:cut], data[cut:]
            yield line, block
            line += block.count(b"\n")
        if rest.strip():
            yield line, rest


def read_csv_blocks(path: str | Path, column_names: Sequence[str], skip_lines: int, block_size: int = 1 << 22,
                    include_columns: Sequence[str] | None = None) -> Iterator[tuple[int, pa.Table]]:
    """(first line number, table of string columns) for each block of ``path``.

    ``column_names`` names every column of the file; ``include_columns`` selects some of them.
    """
    invalid: list[pacsv.InvalidRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append(row)
        return "error"

    names = list(column_names)
    options = dict(
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(include_columns=list(include_columns or names),
                                             column_types={k: pa.string() for k in names},
                                             strings_can_be_null=False),
    )
    for line, block in line_blocks(path, block_size, skip_lines):
        if not block.isascii():  # every column must be UTF-8, read or not (a fast check on ASCII blocks)
            _raise_undecodable(block, path, line, names)
        try:
            table = pacsv.read_csv(pa.py_buffer(block), **options)
        except pa.ArrowInvalid as err:
            if not invalid:
                _raise_undecodable(block, path, line, names)
                raise DataError(f"malformed CSV: {' '.join(str(err).split())}", path, line) from None
            bad = invalid[0]  # its number counts the block's lines from 1
            raise DataError(f"malformed CSV: expected {bad.expected_columns} columns, got {bad.actual_columns}",
                            path, line + bad.number - 1) from None
        yield line, table



def _raise_undecodable(block: bytes, path: str | Path, first_line: int, names: Sequence[str]) -> None:
    """``DataError`` at the first byte of ``block`` that is not UTF-8 (with its column's name), if any."""
    try:
        block.decode("utf-8")
    except UnicodeDecodeError as err:
        start = block.rfind(b"\n", 0, err.start) + 1
        column = block.count(b",", start, err.start)
        field = names[column] if column < len(names) else None
        raise undecodable(block, err.start, path, first_line, field) from None
