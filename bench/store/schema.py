"""The store's SQLite schema and its numbered migrations.

``schema_version`` holds one row per applied migration (version, description, applied_at); the
store's version is the largest. Migrations only ever append: a released migration is never edited,
a change of schema is a new entry at the end of ``MIGRATIONS``. Opening a store applies the missing
ones inside one ``BEGIN IMMEDIATE`` transaction (so concurrent openers migrate once), and refuses a
store written by a newer bench (version above ``LATEST_VERSION``) instead of guessing at it.
"""
from __future__ import annotations

import random
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bench.store.connection import write_transaction
from bench.store.errors import StoreError


@dataclass(frozen=True)
class Migration:
    """One schema step: the statements taking version ``version - 1`` to ``version``."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "create schema_version, runs, test_scores, artifacts", (
        """CREATE TABLE schema_version (
            version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)""",
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY, config_hash TEXT NOT NULL, status TEXT NOT NULL,
            method TEXT NOT NULL, dataset TEXT NOT NULL, config TEXT NOT NULL,
            manifest_sha256 TEXT NOT NULL, seed INTEGER NOT NULL, split_seed INTEGER NOT NULL,
            evaluator TEXT, selection TEXT, metrics TEXT, per_class_ap TEXT, class_names TEXT,
            timings TEXT, cost TEXT, env TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
            created_at TEXT NOT NULL, finished_at TEXT, heartbeat_at TEXT NOT NULL,
            error TEXT, extra TEXT NOT NULL)""",
        """CREATE TABLE test_scores (
            run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE, blob BLOB NOT NULL)""",
        """CREATE TABLE artifacts (
            kind TEXT NOT NULL, key TEXT NOT NULL, payload BLOB NOT NULL, meta TEXT NOT NULL,
            created_at TEXT NOT NULL, PRIMARY KEY (kind, key))""",
    )),
    Migration(2, "index runs by config hash (skip logic) and by creation time (listing order)", (
        "CREATE INDEX runs_by_config ON runs (config_hash, status, created_at, id)",
        "CREATE INDEX runs_by_created ON runs (created_at, id)",
    )),
    Migration(3, "cache the report's bootstrap replicates by content key (bench.reporting.replicates)", (
        """CREATE TABLE bootstrap_replicates (
            key TEXT NOT NULL, statistic TEXT NOT NULL, point REAL, replicates BLOB NOT NULL,
            created_at TEXT NOT NULL, PRIMARY KEY (key, statistic))""",
    )),
)
LATEST_VERSION = MIGRATIONS[-1].version


def schema_version(conn: sqlite3.Connection, path: Path) -> int:
    """The store's schema version: 0 for an empty database; StoreError for a foreign database."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return 0
    if "schema_version" not in tables:
        raise StoreError(
            f"store {path}: an SQLite database but not a bench store (no schema_version table; "
            f"tables: {', '.join(sorted(tables))})"
        )
    version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    return int(version or 0)


def enable_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch the database to the WAL journal (persistent in the file), waiting up to ``timeout`` s.

    SQLite answers a journal-mode change with an immediate "database is locked" (its busy handler
    is not consulted) while other connections have the file open, e.g. several processes creating
    the same new store at once; the switch is retried with short sleeps until ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.005, 0.05))


def ensure_schema(conn: sqlite3.Connection, path: Path, timeout: float, target: int = LATEST_VERSION) -> int:
    """Bring the store at ``path`` to schema ``target`` (WAL journal); returns the version found.

    StoreError when the store is newer than this code knows. ``target`` below the latest exists for
    tests that build an old store on purpose.
    """
    found = schema_version(conn, path)
    _check_known(found, path)
    enable_wal(conn, timeout)
    if found >= target:
        return found
    with write_transaction(conn):
        current = schema_version(conn, path)
        _check_known(current, path)
        for migration in MIGRATIONS:
            if current < migration.version <= target:
                for statement in migration.statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.description, datetime.now(timezone.utc).isoformat()),
                )
    return found


def _check_known(version: int, path: Path) -> None:
    if version > LATEST_VERSION:
        raise StoreError(
            f"store {path}: schema version {version} is newer than this bench knows "
            f"({LATEST_VERSION}); upgrade bench to read it"
        )
