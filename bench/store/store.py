"""``Store``: the SQLite results store (runs, their test scores, shared artifacts).

One embedded file (``results/bench.db`` by default, ``$BENCH_STORE`` or an explicit path), WAL
journal so readers never block the writer, a busy timeout (30 s by default) for writers waiting on
each other, every write one ``BEGIN IMMEDIATE`` transaction (a failing write changes nothing).
Every attempt is a row of its own; ``latest_done`` is the skip primitive (the latest done attempt
of a config hash). A connection is opened per operation, so a ``Store`` is safe to use from threads
(a heartbeat thread) and forked or spawned processes alike.
"""
from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.paths import DEFAULT_STORE, default_store_path  # noqa: F401 - re-exported by bench.store
from bench.core.provenance import environment
from bench.store.codecs import decode_scores, encode_scores, from_json, to_json, utc_now
from bench.store.connection import connect, write_transaction
from bench.store.errors import StoreError, describe_sqlite_error, filesystem_problem, one_line
from bench.store.liveness import DEFAULT_STALE_AFTER_S, HOST, is_stale, with_derived_status
from bench.store.queries import UNFINISHED, runs_query
from bench.store.records import COLUMNS, RunRecord, record_to_row, row_to_record
from bench.store.schema import ensure_schema

_SQL_BATCH = 500  # keys per "IN (...)" query, well under SQLite's variable limit
_INSERT_RUN = f"INSERT OR IGNORE INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


class StoredScores:
    """Loads one run's test scores from its store on first call, then keeps them (picklable)."""

    def __init__(self, store: Store, run_id: str):
        self.store = store
        self.run_id = run_id
        self._loaded: tuple[np.ndarray | None] | None = None

    def __call__(self) -> np.ndarray | None:
        if self._loaded is None:
            self._loaded = (self.store.test_scores(self.run_id),)
        return self._loaded[0]


class Store:
    """The results store at ``path`` (created with its folder if absent, migrated if older).

    ``timeout``: seconds a write waits for another writer's lock before ``StoreError``.
    ``stale_after``: seconds without heartbeat after which readers report a running run "stale"
    (runners should heartbeat well within it, e.g. every 30 s).
    Raises ``StoreError`` (one line, naming the path) for anything that makes the store unusable.
    """

    def __init__(self, path: str | Path | None = None, timeout: float = 30.0, *,
                 stale_after: float = DEFAULT_STALE_AFTER_S):
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self.timeout = float(timeout)
        self.stale_after = float(stale_after)
        if self.path.is_dir():
            raise StoreError(f"store {self.path}: cannot open: it is a directory, not a file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = filesystem_problem(self.path) or one_line(exc.strerror or str(exc))
            raise StoreError(f"store {self.path}: cannot create its folder: {reason}") from None
        with self._connection() as conn:
            ensure_schema(conn, self.path, self.timeout)

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection; every ``sqlite3.Error`` inside becomes a one-line ``StoreError``."""
        conn = None
        try:
            conn = connect(self.path, self.timeout)
            yield conn
        except sqlite3.Error as exc:
            raise describe_sqlite_error(self.path, exc, self.timeout) from exc
        finally:
            if conn is not None:
                conn.close()

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one ``BEGIN IMMEDIATE`` transaction (all or nothing)."""
        with self._connection() as conn, write_transaction(conn):
            yield conn

    def _reader(self, record: RunRecord) -> RunRecord:
        """``record`` with its derived status and a lazy loader of its test scores."""
        with_derived_status(record, self.stale_after)
        return record.with_scores_loader(StoredScores(self, record.id))

    # -- writing one run's lifecycle -------------------------------------------------------------

    def _new_attempt(self, *, config: dict, config_hash: str, method: str, dataset: str, seed: int,
                     split_seed: int, manifest_sha256: str, env: dict | None, extra: dict | None) -> RunRecord:
        now = utc_now()
        return RunRecord(
            id=uuid.uuid4().hex, config_hash=config_hash, status="running", method=method,
            dataset=dataset, config=config, manifest_sha256=manifest_sha256, seed=int(seed),
            split_seed=int(split_seed), evaluator=None, selection=None, metrics=None,
            per_class_ap=None, class_names=None, timings=None, cost=None,
            env=env if env is not None else environment(str(config.get("device", "cpu"))),
            host=HOST, pid=os.getpid(), created_at=now, finished_at=None, heartbeat_at=now,
            error=None, extra=dict(extra or {}),
        )

    def start_run(self, *, config: dict, config_hash: str, method: str, dataset: str, seed: int,
                  split_seed: int, manifest_sha256: str, env: dict | None = None,
                  extra: dict | None = None) -> str:
        """Record a new "running" attempt (this host and pid); returns its id (uuid4 hex).

        ``env`` defaults to ``bench.core.provenance.environment(config.get("device", "cpu"))``.
        """
        record = self._new_attempt(config=config, config_hash=config_hash, method=method, dataset=dataset,
                                   seed=seed, split_seed=split_seed, manifest_sha256=manifest_sha256, env=env,
                                   extra=extra)
        with self._writing() as conn:
            conn.execute(_INSERT_RUN, record_to_row(record))
        return record.id

    def claim_run(self, *, force: bool = False, **attempt: Any) -> tuple[str, RunRecord | str]:
        """Claim a configuration before training it, atomically (one write transaction).

        Returns ``("done", record)`` when a done attempt exists, ``("busy", record)`` when a live
        attempt (running, heartbeat fresh, process alive) trains it now, else records a new
        running attempt (``start_run``'s keyword arguments) and returns ``("claimed", run_id)``.
        ``force`` skips both checks: a new attempt is recorded whatever else exists.
        """
        record = self._new_attempt(**{"env": None, "extra": None, **attempt})
        with self._writing() as conn:
            if not force:
                done = conn.execute("SELECT * FROM runs WHERE config_hash = ? AND status = 'done' "
                                    "ORDER BY created_at DESC, id DESC LIMIT 1", (record.config_hash,)).fetchone()
                if done is not None:
                    return "done", self._reader(row_to_record(done))
                rows = conn.execute("SELECT * FROM runs WHERE config_hash = ? AND status = 'running' "
                                    "ORDER BY created_at, id", (record.config_hash,)).fetchall()
                live = [r for r in (self._reader(row_to_record(row)) for row in rows) if r.status == "running"]
                if live:
                    return "busy", live[0]
            conn.execute(_INSERT_RUN, record_to_row(record))
        return "claimed", record.id

    def heartbeat(self, run_id: str) -> None:
        """Mark an unfinished run alive now (a run marked stale becomes running again).

        A finished run is left alone (a late heartbeat thread is harmless); StoreError if no run.
        """
        with self._writing() as conn:
            updated = conn.execute(
                "UPDATE runs SET heartbeat_at = ?, status = 'running' WHERE id = ? AND status IN (?, ?)",
                (utc_now(), run_id, *UNFINISHED),
            ).rowcount
            if not updated:
                self._status_of(conn, run_id)

    def finish_run(self, run_id: str, *, metrics: dict, per_class_ap: list, class_names: list,
                   evaluator: str, selection: dict, timings: dict, cost: dict,
                   test_scores: np.ndarray | None = None, extra: dict | None = None) -> None:
        """Record the results of an unfinished run: status "done", its metrics and test scores.

        NaN entries of ``per_class_ap`` (excluded classes) are stored as None; ``extra`` is merged
        into the run's extra. StoreError if the run is unknown or already finished; ValueError
        for values that cannot be stored. Either everything is written or nothing changes.
        """
        if len(per_class_ap) != len(class_names):
            raise ValueError(
                f"finish_run {run_id}: per_class_ap has {len(per_class_ap)} entries, class_names {len(class_names)}"
            )
        values = {
            "metrics": to_json(metrics, "metrics"), "per_class_ap": to_json(per_class_ap, "per_class_ap"),
            "class_names": to_json(class_names, "class_names"), "evaluator": evaluator,
            "selection": to_json(selection, "selection"), "timings": to_json(timings, "timings"),
            "cost": to_json(cost, "cost"),
        }
        blob = None if test_scores is None else encode_scores(test_scores)
        self._finish(run_id, "done", values, extra, blob)

    def fail_run(self, run_id: str, error: str) -> None:
        """Record an unfinished run as "failed" with ``error``; StoreError if unknown or finished."""
        self._finish(run_id, "failed", {"error": str(error)}, None, None)

    def _finish(self, run_id: str, status: str, values: dict, extra: dict | None, blob: bytes | None) -> None:
        now = utc_now()
        with self._writing() as conn:
            current = self._status_of(conn, run_id)
            if current not in UNFINISHED:
                raise StoreError(
                    f"store {self.path}: run {run_id} is already {current}; a finished run is never changed")
            if extra:
                stored = from_json(conn.execute("SELECT extra FROM runs WHERE id = ?", (run_id,)).fetchone()[0])
                values["extra"] = to_json({**stored, **extra}, "extra")
            values.update(status=status, finished_at=now, heartbeat_at=now)
            assignments = ", ".join(f"{name} = ?" for name in values)
            conn.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*values.values(), run_id))
            if blob is not None:
                conn.execute("INSERT INTO test_scores (run_id, blob) VALUES (?, ?)", (run_id, blob))

    def _status_of(self, conn: sqlite3.Connection, run_id: str) -> str:
        row = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"store {self.path}: no run with id {run_id}")
        return row[0]

    def mark_stale(self) -> int:
        """Write status "stale" on every running record that readers report stale; returns how many."""
        with self._writing() as conn:
            rows = conn.execute("SELECT * FROM runs WHERE status = 'running'").fetchall()
            stale = [r["id"] for r in rows if is_stale(row_to_record(r), self.stale_after)]
            conn.executemany("UPDATE runs SET status = 'stale' WHERE id = ?", [(i,) for i in stale])
        return len(stale)

    # -- reading ---------------------------------------------------------------------------------

    def get_run(self, run_id_or_prefix: str) -> RunRecord:
        """The run with this id, or the only one whose id starts with it; StoreError otherwise."""
        key = run_id_or_prefix.strip().lower()
        if not key:
            raise StoreError(f"store {self.path}: empty run id")
        with self._connection() as conn:
            rows = conn.execute("SELECT * FROM runs WHERE id = ?", (key,)).fetchall() or conn.execute(
                "SELECT * FROM runs WHERE substr(id, 1, ?) = ? LIMIT 6", (len(key), key)).fetchall()
        if not rows:
            raise StoreError(f"store {self.path}: no run with id or prefix {key!r}")
        if len(rows) > 1:
            shown = ", ".join(r["id"][:12] for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
            raise StoreError(f"store {self.path}: run id prefix {key!r} is ambiguous ({shown}); give more characters")
        return self._reader(row_to_record(rows[0]))

    def latest_done(self, config_hash: str) -> RunRecord | None:
        """The most recent done attempt of ``config_hash`` (the skip test), or None."""
        with self._connection() as conn:
            row = conn.execute(
                "SELECT * FROM runs WHERE config_hash = ? AND status = 'done' "
                "ORDER BY created_at DESC, id DESC LIMIT 1", (config_hash,)).fetchone()
        return None if row is None else self._reader(row_to_record(row))

    def runs(self, *, status: str | None = None, method: str | None = None, dataset: str | None = None,
             latest_done_per_config: bool = False) -> list[RunRecord]:
        """Runs ordered by (created_at, id), filtered by reported status and selectors.

        ``latest_done_per_config``: only the latest done attempt of each config hash.
        """
        sql, params = runs_query(status, method, dataset, latest_done_per_config)
        with self._connection() as conn:
            rows = conn.execute(sql, params).fetchall()
        records = [self._reader(row_to_record(row)) for row in rows]
        return records if status is None else [r for r in records if r.status == status]

    def scores_blob(self, run_id: str) -> bytes | None:
        """The stored (compressed) test scores of a run, as ``insert_record`` accepts them."""
        with self._connection() as conn:
            row = conn.execute("SELECT blob FROM test_scores WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def test_scores(self, run_id: str) -> np.ndarray | None:
        """The decoded float32 test scores of a run, or None when it stored none."""
        blob = self.scores_blob(run_id)
        return None if blob is None else decode_scores(blob)

    # -- copying records between stores ----------------------------------------------------------

    def insert_record(self, record: RunRecord, test_scores: bytes | np.ndarray | None = None) -> bool:
        """Store ``record`` verbatim (its id, status, timestamps); False if that id is already here.

        ``test_scores``: the stored blob (``scores_blob``/``encode_scores``) or a float array.
        """
        blob = encode_scores(test_scores) if isinstance(test_scores, np.ndarray) else test_scores
        row = record_to_row(record)
        with self._writing() as conn:
            if conn.execute(_INSERT_RUN, row).rowcount == 0:
                return False
            if blob is not None:
                conn.execute("INSERT INTO test_scores (run_id, blob) VALUES (?, ?)", (record.id, bytes(blob)))
        return True

    def merge(self, other: str | Path) -> dict:
        """Copy the runs (with scores) and artifacts of the store at ``other`` missing here.

        Returns ``{"added", "updated", "skipped", "artifacts_added", "artifacts_skipped"}``; see
        ``bench.store.merge.merge_into``.
        """
        from bench.store.merge import merge_into

        return merge_into(self, Path(other).expanduser())

    # -- artifacts -------------------------------------------------------------------------------

    def put_artifact(self, name: str, key: str, payload: bytes, meta: dict) -> None:
        """Store ``payload`` of artifact ``name`` under ``key``, replacing what was there (e.g. a
        class prior). The table's ``kind`` column holds the artifact name."""
        meta_json = to_json(meta, "meta")
        with self._writing() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO artifacts (kind, key, payload, meta, created_at) VALUES (?, ?, ?, ?, ?)",
                (name, key, bytes(payload), meta_json, utc_now()),
            )

    def get_artifact(self, name: str, key: str) -> tuple[bytes, dict] | None:
        """(payload, meta) of artifact ``name`` stored under ``key``, or None."""
        with self._connection() as conn:
            row = conn.execute("SELECT payload, meta FROM artifacts WHERE kind = ? AND key = ?", (name, key)).fetchone()
        return None if row is None else (bytes(row["payload"]), from_json(row["meta"]))

    # -- the report's bootstrap replicates (a cache keyed by content) -----------------------------

    def bootstrap_replicates(self, keys: Sequence[str]) -> dict[str, dict[str, tuple[float, np.ndarray]]]:
        """The cached entries of ``keys`` (``bench.reporting.replicates``): ``{key: {statistic:
        (point, float64 replicates)}}``, keys without an entry left out; a NULL point reads as NaN."""
        found: dict[str, dict[str, tuple[float, np.ndarray]]] = {}
        keys = list(dict.fromkeys(keys))
        with self._connection() as conn:
            for start in range(0, len(keys), _SQL_BATCH):
                batch = keys[start:start + _SQL_BATCH]
                rows = conn.execute("SELECT key, statistic, point, replicates FROM bootstrap_replicates "
                                    f"WHERE key IN ({', '.join('?' * len(batch))})", batch).fetchall()
                for row in rows:
                    point = float("nan") if row["point"] is None else float(row["point"])
                    values = np.frombuffer(bytes(row["replicates"]), dtype="<f8").copy()
                    found.setdefault(row["key"], {})[row["statistic"]] = (point, values)
        return found

    def put_bootstrap_replicates(self, entries: dict[str, dict[str, tuple[float, np.ndarray]]]) -> None:
        """Store (replacing) ``{key: {statistic: (point, replicates)}}`` in one transaction."""
        now = utc_now()
        rows = [(key, statistic, None if np.isnan(point) else float(point),
                 np.ascontiguousarray(values, dtype="<f8").tobytes(), now)
                for key, entry in entries.items() for statistic, (point, values) in entry.items()]
        with self._writing() as conn:
            conn.executemany("INSERT OR REPLACE INTO bootstrap_replicates "
                             "(key, statistic, point, replicates, created_at) VALUES (?, ?, ?, ?, ?)", rows)

    # -- export ----------------------------------------------------------------------------------

    def export(self, path: str | Path, fmt: str = "csv", *, latest_done_per_config: bool = False) -> int:
        """Write one row per run to CSV or parquet (see ``bench.store.export``); returns rows."""
        from bench.store.export import write_runs

        return write_runs(self.runs(latest_done_per_config=latest_done_per_config), Path(path), fmt)
