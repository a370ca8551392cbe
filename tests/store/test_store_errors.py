"""Store: an unusable store file gives one StoreError line naming the path and the problem."""
from __future__ import annotations

import os
import sqlite3

import numpy as np
import pytest

from bench.store import LATEST_VERSION, RunRecord, Store, StoreError


def assert_one_line(error: pytest.ExceptionInfo, path, problem: str) -> None:
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"store {path}: ")
    assert problem in message, message


def test_a_file_that_is_not_sqlite_is_left_untouched(tmp_path):
    path = tmp_path / "bench.db"
    content = b"run_id,map_c\n1,70.0\n" * 200
    path.write_bytes(content)
    with pytest.raises(StoreError) as error:
        Store(path)
    assert_one_line(error, path, "not a readable SQLite database")
    assert path.read_bytes() == content


def test_corrupt_pages_are_reported_not_returned(tmp_path):
    path = tmp_path / "bench.db"
    store = Store(path)
    template = dict(config_hash="h", status="done", method="m", dataset="d", config={"pad": "x" * 2000},
                    manifest_sha256="0" * 64, seed=0, split_seed=0, evaluator=None, selection=None,
                    metrics=None, per_class_ap=None, class_names=None, timings=None, cost=None, env={},
                    host="h", pid=1, created_at="2024-01-01T00:00:00+00:00", finished_at=None,
                    heartbeat_at="2024-01-01T00:00:00+00:00", error=None, extra={})
    for index in range(40):
        store.insert_record(RunRecord(id=f"{index:032x}", **template))
    assert not path.with_name("bench.db-wal").exists(), "the last connection checkpointed the WAL"
    data = bytearray(path.read_bytes())
    data[2 * 4096:] = np.random.default_rng(0).integers(0, 256, len(data) - 2 * 4096, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError) as error:
        Store(path).runs()
    assert_one_line(error, path, "not a readable SQLite database (corrupt or another kind of file)")


def test_a_directory_is_not_a_store(tmp_path):
    with pytest.raises(StoreError) as error:
        Store(tmp_path)
    assert_one_line(error, tmp_path, "it is a directory")


def test_a_store_under_a_file_cannot_be_created(tmp_path):
    (tmp_path / "results").write_text("not a folder")
    path = tmp_path / "results" / "bench.db"
    with pytest.raises(StoreError) as error:
        Store(path)
    assert_one_line(error, path, f"cannot create its folder: its parent {tmp_path / 'results'} is a file")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_store_names_the_permission_problem(tmp_path):
    path = tmp_path / "bench.db"
    Store(path)
    path.chmod(0)
    try:
        with pytest.raises(StoreError) as error:
            Store(path).runs()
        assert_one_line(error, path, "permission denied")
    finally:
        path.chmod(0o644)


def test_a_newer_schema_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "bench.db"
    Store(path)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 'from the future', '2099-01-01')", (LATEST_VERSION + 5,))
    with pytest.raises(StoreError) as error:
        Store(path)
    newer = f"schema version {LATEST_VERSION + 5} is newer than this bench knows ({LATEST_VERSION})"
    assert_one_line(error, path, newer)


def test_another_sqlite_database_is_not_a_bench_store(tmp_path):
    path = tmp_path / "photos.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE photos (name TEXT)")
    with pytest.raises(StoreError) as error:
        Store(path)
    assert_one_line(error, path, "not a bench store (no schema_version table; tables: photos)")


def test_an_empty_file_becomes_a_store(tmp_path):
    path = tmp_path / "bench.db"
    path.touch()
    assert Store(path).runs() == []
