"""``StoreError`` and the translation of SQLite failures into one-line messages naming the store."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from bench.core.errors import BenchError


class StoreError(BenchError, RuntimeError):
    """The results store cannot be used: one line naming the store path and what is wrong."""


def one_line(text: str) -> str:
    """``text`` with its whitespace runs (newlines included) collapsed to single spaces."""
    return " ".join(str(text).split())


def describe_sqlite_error(path: Path, exc: sqlite3.Error, timeout: float) -> StoreError:
    """A ``StoreError`` for ``exc`` raised while using the store at ``path``.

    ``database is locked`` / ``busy`` after the busy timeout means another connection kept its write
    lock longer than ``timeout`` seconds; ``file is not a database`` / ``malformed`` mean the file is
    not a readable SQLite database; ``unable to open`` is refined from the file system (a directory,
    a missing or unwritable folder, no permission).
    """
    message = one_line(str(exc))
    lowered = message.lower()
    if "locked" in lowered or "busy" in lowered:
        problem = f"still busy after the {timeout:g} s timeout (another process holds the write lock): {message}"
    elif "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        problem = f"not a readable SQLite database (corrupt or another kind of file): {message}"
    elif "unable to open" in lowered:
        problem = f"cannot open: {filesystem_problem(path) or message}"
    elif "readonly" in lowered or "read-only" in lowered:
        problem = f"read-only (no permission to write the store or its folder): {message}"
    else:
        problem = message
    return StoreError(f"store {path}: {problem}")


def filesystem_problem(path: Path) -> str | None:
    """Why ``path`` cannot hold an SQLite store, as far as the file system tells, or None."""
    if path.is_dir():
        return "it is a directory, not a file"
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        return f"its parent {parent} is a file, not a directory"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return "permission denied (the file is not readable and writable by this user)"
    if parent.is_dir() and not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
        return f"permission denied (cannot create files in {parent})"
    return None
