"""Text input: UTF-8, a leading byte-order mark accepted, undecodable bytes refused as one line.

``read_text(path, what)`` returns a file's text (a UTF-8 BOM dropped). A byte that is not UTF-8
raises a ``DataError`` naming the file, the line and the byte's column, instead of a
``UnicodeDecodeError`` that names no file. ``undecodable(data, ...)`` builds that error for a
block of a larger file (``bench.io.csvblocks``).
"""
from __future__ import annotations

from pathlib import Path

from bench.io.errors import DataError, require_file

BOM = b"\xef\xbb\xbf"


def undecodable(data: bytes | memoryview, offset: int, path: str | Path, first_line: int = 1,
                field: str | None = None) -> DataError:
    """The ``DataError`` for the byte at ``offset`` of ``data`` (whose first line is ``first_line``)."""
    data = bytes(data)
    line = first_line + data.count(b"\n", 0, offset)
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return DataError(f"not UTF-8 text: byte 0x{data[offset]:02x} at column {column}", path, line, field)


def decode_utf8(data: bytes, path: str | Path, first_line: int = 1) -> str:
    """``data`` decoded as UTF-8 (a leading BOM dropped); ``DataError`` at the first bad byte."""
    skip = len(BOM) if data.startswith(BOM) else 0
    view = memoryview(data)[skip:]
    try:
        return str(view, "utf-8")
    except UnicodeDecodeError as err:
        raise undecodable(data, err.start + skip, path, first_line) from None


def read_bytes(path: str | Path, what: str) -> bytes:
    """The bytes of ``path`` (``DataError`` when it is missing or unreadable)."""
    path = require_file(path, what)
    try:
        return path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read {what}: {err.strerror or err}", path) from None


def read_text(path: str | Path, what: str) -> str:
    """The UTF-8 text of ``path`` (BOM dropped); ``DataError`` naming the file and line otherwise."""
    return decode_utf8(read_bytes(path, what), path)


def first_line(path: str | Path, what: str, limit: int = 1 << 20) -> str:
    """The first line of ``path`` without its line break (BOM dropped, at most ``limit`` bytes)."""
    path = require_file(path, what)
    with open(path, "rb") as handle:
        head = handle.readline(limit)
    return decode_utf8(head, path).rstrip("\r\n")
