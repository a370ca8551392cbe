"""Merging another store's runs and artifacts into this one, never duplicating a run id."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from bench.store.connection import connect
from bench.store.errors import StoreError, describe_sqlite_error
from bench.store.records import COLUMNS, record_to_row, row_to_record
from bench.store.schema import LATEST_VERSION, schema_version

if TYPE_CHECKING:
    from bench.store.store import Store

_FINISHED = ("done", "failed")


def merge_into(store: Store, source: Path) -> dict:
    """Copy into ``store`` what the store file ``source`` holds and ``store`` lacks.

    A run whose id is absent here is added with its test scores; a run that is unfinished here
    (running / stale) and finished there (done / failed) is replaced by the finished record (the
    same attempt, completed elsewhere: "updated"); every other run is "skipped", so merging twice
    adds nothing. Artifacts absent here by (kind, key) are added; present ones are kept. The
    source is opened read-only (never migrated); the whole merge is one transaction.
    Returns ``{"added", "updated", "skipped", "artifacts_added", "artifacts_skipped"}``.
    """
    if not source.is_file():
        raise StoreError(f"store {source}: cannot merge: no such file")
    counts = dict.fromkeys(("added", "updated", "skipped", "artifacts_added", "artifacts_skipped"), 0)
    source_conn = _open_source(source, store.timeout)
    try:
        with store._writing() as conn:
            for row in _read(source_conn, source, store.timeout, "SELECT * FROM runs ORDER BY created_at, id"):
                outcome = _merge_run(conn, source_conn, source, store.timeout, row)
                counts[outcome] += 1
            for row in _read(source_conn, source, store.timeout,
                             "SELECT kind, key, payload, meta, created_at FROM artifacts"):
                inserted = conn.execute(
                    "INSERT OR IGNORE INTO artifacts (kind, key, payload, meta, created_at) VALUES (?, ?, ?, ?, ?)",
                    tuple(row)).rowcount
                counts["artifacts_added" if inserted else "artifacts_skipped"] += 1
    finally:
        source_conn.close()
    return counts


def _open_source(source: Path, timeout: float) -> sqlite3.Connection:
    """A read-only connection to a bench store of a schema this code can read."""
    try:
        conn = connect(source, timeout, readonly=True)
        version = schema_version(conn, source)
    except sqlite3.Error as exc:
        raise describe_sqlite_error(source, exc, timeout) from exc
    if version == 0:
        conn.close()
        raise StoreError(f"store {source}: cannot merge: an empty database, not a bench store")
    if version > LATEST_VERSION:
        conn.close()
        raise StoreError(f"store {source}: schema version {version} is newer than this bench knows ({LATEST_VERSION})")
    return conn


def _read(conn: sqlite3.Connection, source: Path, timeout: float, sql: str,
          params: tuple = ()) -> Iterator[sqlite3.Row]:
    """Rows of ``sql`` on the source, its SQLite errors reported against the source's path."""
    try:
        yield from conn.execute(sql, params)
    except sqlite3.Error as exc:
        raise describe_sqlite_error(source, exc, timeout) from exc


def _merge_run(conn: sqlite3.Connection, source_conn: sqlite3.Connection, source: Path, timeout: float,
               row: sqlite3.Row) -> str:
    """Add, complete or skip one source run; returns which ("added" | "updated" | "skipped")."""
    here = conn.execute("SELECT status FROM runs WHERE id = ?", (row["id"],)).fetchone()
    if here is not None and not (here[0] in ("running", "stale") and row["status"] in _FINISHED):
        return "skipped"
    if here is not None:
        conn.execute("DELETE FROM test_scores WHERE run_id = ?", (row["id"],))
        conn.execute("DELETE FROM runs WHERE id = ?", (row["id"],))
    conn.execute(f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                 record_to_row(row_to_record(row)))
    for (blob,) in _read(source_conn, source, timeout, "SELECT blob FROM test_scores WHERE run_id = ?", (row["id"],)):
        conn.execute("INSERT INTO test_scores (run_id, blob) VALUES (?, ?)", (row["id"], blob))
    return "added" if here is None else "updated"
