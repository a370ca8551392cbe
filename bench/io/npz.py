"""One reader for ``.npz`` archives of numeric arrays (the ``features`` and ``scene`` plugins).

``read_npz(path, what)`` returns every ``.npy`` member as an array, read the way ``numpy.load``
reads it (``allow_pickle=False``), so valid files give identical arrays. A damaged file is one
``DataError`` naming the file (and the member when one is at fault) instead of ``BadZipFile``,
``EOFError: No data left in file``, ``zlib.error`` or numpy's advice to pass ``allow_pickle``:
an empty, truncated or non-zip file, a member listed twice, an object (pickled) array, a header
that declares more data than the member holds, or data that ends early.
"""
from __future__ import annotations

import math
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np
import numpy.lib.format as npy_format

from bench.io.errors import DataError, require_file

# What a damaged archive or member raises while it is read (zipfile, zlib, numpy.lib.format's header
# parser: ast.literal_eval, tokenize, then dtype construction from whatever the header held).
_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError, OSError,
                NotImplementedError, RuntimeError, SyntaxError, OverflowError, MemoryError, tokenize.TokenError,
                TypeError, KeyError, IndexError, AttributeError)


def _header(handle, version: tuple[int, int]) -> tuple[tuple, np.dtype]:
    if version == (1, 0):
        shape, _, dtype = npy_format.read_array_header_1_0(handle)
    elif version == (2, 0):
        shape, _, dtype = npy_format.read_array_header_2_0(handle)
    else:  # version 3.0 (UTF-8 field names) has no public header reader
        shape, _, dtype = npy_format._read_array_header(handle, version)  # noqa: SLF001
    return shape, dtype


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, key: str) -> np.ndarray:
    try:
        with archive.open(info) as handle:
            shape, dtype = _header(handle, npy_format.read_magic(handle))
        if dtype.hasobject:
            raise DataError("holds Python objects (a pickled array), which are not read; store numbers or strings",
                            path, field=key)
        if any(int(n) < 0 for n in shape):
            raise DataError(f"declares the invalid shape {shape}", path, field=key)
        declared = math.prod(int(n) for n in shape) * dtype.itemsize
        if declared > info.file_size:
            raise DataError(f"declares a {shape} {dtype} array ({declared:,} bytes) but the member holds "
                            f"{info.file_size:,} bytes (truncated or corrupt)", path, field=key)
        with archive.open(info) as handle:
            return npy_format.read_array(handle, allow_pickle=False)
    except DataError:
        raise
    except _READ_ERRORS as err:
        raise DataError(f"unreadable array ({' '.join(str(err).split()) or type(err).__name__})", path,
                        field=key) from None


def read_npz(path: str | Path, what: str = "npz file") -> dict[str, np.ndarray]:
    """Every ``.npy`` member of the archive at ``path`` by name (without ``.npy``); other members
    are ignored. ``DataError`` naming the file (and member) when the archive cannot be read."""
    path = require_file(path, what)
    try:
        if path.stat().st_size == 0:
            raise DataError("empty file, expected a .npz archive", path)
        with zipfile.ZipFile(path) as archive:
            arrays: dict[str, np.ndarray] = {}
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):  # directories, other members, and a nameless one
                    continue
                key = info.filename[: -len(".npy")]
                if key in arrays:
                    raise DataError("member listed twice in the archive", path, field=key)
                arrays[key] = _member(archive, info, path, key)
            return arrays
    except DataError:
        raise
    except _READ_ERRORS as err:
        raise DataError(f"not a readable .npz archive ({' '.join(str(err).split()) or type(err).__name__})",
                        path) from None
