"""Store: processes writing at once lose nothing; a writer still locked out after the timeout gets StoreError."""
from __future__ import annotations

import multiprocessing
import sqlite3

import numpy as np
import pytest

from bench.store import Store, StoreError


def write_runs(path: str, writer: int, count: int, barrier) -> None:
    """Open the store (maybe creating it) once all writers are ready, then start and finish ``count`` runs."""
    barrier.wait()
    store = Store(path)
    for index in range(count):
        run_id = store.start_run(config={"writer": writer, "index": index}, config_hash=f"{writer}-{index}",
                                 method="m", dataset="d", seed=index, split_seed=0,
                                 manifest_sha256="0" * 64, env={})
        store.heartbeat(run_id)
        store.finish_run(run_id, metrics={"map_c": float(index)}, per_class_ap=[0.5], class_names=["a"],
                         evaluator="partial", selection={"policy": "last"}, timings={}, cost={},
                         test_scores=np.full(8, writer * 1000 + index, dtype=np.float32))


@pytest.mark.parametrize("writers,count", [(2, 25), (4, 50)])
def test_concurrent_writers_lose_nothing(tmp_path, writers, count):
    """All writers also create and migrate the (absent) store at the same moment."""
    path = tmp_path / "bench.db"
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(writers)
    processes = [context.Process(target=write_runs, args=(str(path), w, count, barrier)) for w in range(writers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=240)
    assert [p.exitcode for p in processes] == [0] * writers

    store = Store(path)
    runs = store.runs()
    assert len(runs) == writers * count and len({r.id for r in runs}) == writers * count
    assert {r.config_hash for r in runs} == {f"{w}-{i}" for w in range(writers) for i in range(count)}
    assert {r.status for r in runs} == {"done"}
    for record in runs:
        writer, index = record.config["writer"], record.config["index"]
        np.testing.assert_array_equal(record.test_scores(), np.full(8, writer * 1000 + index, dtype=np.float32))
    with store._connection() as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, len(versions) + 1)), "each migration applied exactly once"


def test_writer_locked_out_past_the_timeout_gets_store_error(tmp_path):
    path = tmp_path / "bench.db"
    store = Store(path)
    finished = store.start_run(config={}, config_hash="h", method="m", dataset="d", seed=0, split_seed=0,
                               manifest_sha256="0" * 64, env={})
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        impatient = Store(path, timeout=0.2)
        with pytest.raises(StoreError, match=r"bench\.db: still busy after the 0\.2 s timeout"):
            impatient.start_run(config={}, config_hash="h", method="m", dataset="d", seed=0, split_seed=0,
                                manifest_sha256="0" * 64, env={})
        with pytest.raises(StoreError, match="still busy"):
            impatient.fail_run(finished, "x")
        assert [r.id for r in impatient.runs()] == [finished], "WAL readers are not blocked by the writer"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.get_run(finished).status == "running"
    store.fail_run(finished, "x")


def test_connections_use_wal_and_a_30_s_busy_timeout(tmp_path):
    store = Store(tmp_path / "bench.db")
    with store._connection() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
