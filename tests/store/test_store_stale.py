"""Store: a running record whose heartbeat stopped, or whose process died, is reported stale."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from bench.store import RunRecord, Store

NOW = datetime.now(timezone.utc)  # before any test of this module: every heartbeat written later is newer


def running_record(run_id: str, heartbeat_age_s: float, host: str = "other-host", pid: int = 1) -> RunRecord:
    beat = (datetime.now(timezone.utc) - timedelta(seconds=heartbeat_age_s)).isoformat(timespec="microseconds")
    return RunRecord(
        id=run_id, config_hash="h", status="running", method="m", dataset="d", config={},
        manifest_sha256="0" * 64, seed=0, split_seed=0, evaluator=None, selection=None, metrics=None,
        per_class_ap=None, class_names=None, timings=None, cost=None, env={}, host=host, pid=pid,
        created_at=beat, finished_at=None, heartbeat_at=beat, error=None, extra={},
    )


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_old_heartbeat_is_reported_stale_and_only_mark_stale_writes_it(tmp_path):
    store = Store(tmp_path / "bench.db")
    store.insert_record(running_record("a" * 32, heartbeat_age_s=600))
    store.insert_record(running_record("b" * 32, heartbeat_age_s=5))
    assert store.get_run("a" * 32).status == "stale"
    assert store.get_run("b" * 32).status == "running", "another host's fresh heartbeat is alive"
    assert [r.id for r in store.runs(status="stale")] == ["a" * 32]
    assert [r.id for r in store.runs(status="running")] == ["b" * 32]
    with store._connection() as conn:
        stored = dict(conn.execute("SELECT id, status FROM runs").fetchall())
    assert stored == {"a" * 32: "running", "b" * 32: "running"}, "readers never rewrite the record"

    assert store.mark_stale() == 1
    with store._connection() as conn:
        stored = dict(conn.execute("SELECT id, status FROM runs").fetchall())
    assert stored == {"a" * 32: "stale", "b" * 32: "running"}
    assert store.mark_stale() == 0


def test_dead_pid_on_this_host_is_stale_at_once(tmp_path):
    store = Store(tmp_path / "bench.db")
    host = socket.gethostname()
    store.insert_record(running_record("c" * 32, heartbeat_age_s=1, host=host, pid=dead_pid()))
    store.insert_record(running_record("d" * 32, heartbeat_age_s=1, host=host, pid=os.getpid()))
    assert store.get_run("c" * 32).status == "stale"
    assert store.get_run("d" * 32).status == "running"


def test_threshold_is_configurable(tmp_path):
    Store(tmp_path / "bench.db").insert_record(running_record("e" * 32, heartbeat_age_s=30))
    assert Store(tmp_path / "bench.db").get_run("e" * 32).status == "running"
    assert Store(tmp_path / "bench.db", stale_after=10).get_run("e" * 32).status == "stale"


def test_heartbeat_keeps_a_run_alive_and_revives_a_marked_one(tmp_path):
    store = Store(tmp_path / "bench.db")
    store.insert_record(running_record("f" * 32, heartbeat_age_s=600, host=socket.gethostname(), pid=os.getpid()))
    assert store.mark_stale() == 1 and store.get_run("f" * 32).status == "stale"
    store.heartbeat("f" * 32)
    record = store.get_run("f" * 32)
    assert record.status == "running" and record.heartbeat_at > NOW.isoformat()


def test_a_stale_run_can_still_finish_or_fail(tmp_path):
    store = Store(tmp_path / "bench.db")
    store.insert_record(running_record("1" * 32, heartbeat_age_s=600))
    store.insert_record(running_record("2" * 32, heartbeat_age_s=600))
    store.mark_stale()
    store.fail_run("1" * 32, "worker lost")
    store.finish_run("2" * 32, metrics={"map_c": 1.0}, per_class_ap=[1.0], class_names=["a"], evaluator="partial",
                     selection={"policy": "last"}, timings={}, cost={})
    assert [store.get_run(i * 32).status for i in "12"] == ["failed", "done"]
