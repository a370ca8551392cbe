"""Opening SQLite connections to a store and running write transactions on them."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote


def connect(path: Path, timeout: float, *, readonly: bool = False) -> sqlite3.Connection:
    """An autocommit connection (transactions are explicit) waiting up to ``timeout`` s for locks.

    The wait is set twice on purpose: ``sqlite3.connect(timeout=...)`` installs Python's busy
    handler and ``PRAGMA busy_timeout`` records it in the connection, where it can be checked.
    ``readonly`` opens with ``mode=ro`` (used to read another store without migrating it).
    """
    target = f"file:{quote(str(path))}?mode=ro" if readonly else str(path)
    conn = sqlite3.connect(target, timeout=timeout, isolation_level=None, uri=readonly)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; any exception rolls everything back and propagates.

    IMMEDIATE takes the write lock up front, so two writers never both read and then fail to
    upgrade (the deadlock DEFERRED transactions can hit); the busy timeout applies to taking it.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
