"""Store: a run's lifecycle, the skip primitive, every attempt kept, failure records, artifacts."""
from __future__ import annotations

import json
import math
import os
import pickle
import platform
import socket
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from bench.store import RunRecord, Store, StoreError, default_store_path

CLASSES = ["beach", "sunset", "fall foliage", "field", "mountain", "urban"]


def start(store: Store, config_hash: str = "h1", method: str = "negative", **overrides) -> str:
    """A started run with plausible values (``env`` given, so no git call per run)."""
    kwargs = dict(config={"method": method, "lr": 1e-3, "device": "cpu"}, config_hash=config_hash,
                  method=method, dataset="scene+rpa[p=0.5]", seed=0, split_seed=0,
                  manifest_sha256="ab" * 32, env={"python": platform.python_version()})
    kwargs.update(overrides)
    return store.start_run(**kwargs)


def finish(store: Store, run_id: str, map_c: float = 70.0, **overrides) -> None:
    kwargs = dict(metrics={"map_c": map_c, "map_o": 75.0}, per_class_ap=[0.5] * 6, class_names=CLASSES,
                  evaluator="partial", selection={"policy": "val", "epoch": 3}, timings={"wall_s": 1.0},
                  cost={"device": "cpu"})
    kwargs.update(overrides)
    store.finish_run(run_id, **kwargs)


def test_default_path_follows_bench_store(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_STORE", str(tmp_path / "env.db"))
    assert Store().path == tmp_path / "env.db"
    monkeypatch.delenv("BENCH_STORE")
    assert default_store_path() == Path("results") / "bench.db"


def test_full_record_round_trip_with_scores(tmp_path):
    store = Store(tmp_path / "bench.db")
    config = {"method": {"name": "negative", "params": {"reduction": "sum"}}, "device": "cpu", "epochs": 30}
    run_id = store.start_run(config=config, config_hash="c0ffee", method="negative",
                             dataset="scene+rpa[p=0.5]", seed=3, split_seed=1, manifest_sha256="f" * 64,
                             extra={"selected_on_test": False})
    assert store.get_run(run_id).status == "running"
    store.heartbeat(run_id)
    scores = np.random.default_rng(0).random(5000, dtype=np.float32)
    metrics = {"map_c": np.float64(71.25), "map_o": 80.5, "micro_ap": np.float32(0.5),
               "group_map": {"head": 70.0, "tail": float("nan")}, "ema": {"map_c": 72.0}}
    store.finish_run(run_id, metrics=metrics, per_class_ap=[0.5, float("nan"), np.float32(0.25), 1, 0.0, 0.75],
                     class_names=CLASSES, evaluator="partial", selection={"policy": "val", "epoch": np.int64(7)},
                     timings={"wall_s": 3.5, "train_s": 3.0, "eval_s": 0.5},
                     cost={"device": "cpu", "device_hours": 0.001, "peak_host_mb": 512.0},
                     test_scores=scores, extra={"throughput": 10.0})

    record = Store(tmp_path / "bench.db").get_run(run_id[:10])
    assert record.id == run_id and len(run_id) == 32
    assert (record.status, record.config_hash, record.method, record.dataset) == \
        ("done", "c0ffee", "negative", "scene+rpa[p=0.5]")
    assert (record.config, record.seed, record.split_seed, record.manifest_sha256) == (config, 3, 1, "f" * 64)
    assert record.metrics == {"map_c": 71.25, "map_o": 80.5, "micro_ap": 0.5,
                              "group_map": {"head": 70.0, "tail": None}, "ema": {"map_c": 72.0}}
    assert record.per_class_ap == [0.5, None, 0.25, 1, 0.0, 0.75]
    assert record.class_names == CLASSES
    assert record.selection == {"policy": "val", "epoch": 7} and record.evaluator == "partial"
    assert record.timings["eval_s"] == 0.5 and record.cost["peak_host_mb"] == 512.0
    assert record.extra == {"selected_on_test": False, "throughput": 10.0}
    assert (record.host, record.pid, record.error) == (socket.gethostname(), os.getpid(), None)
    assert record.env["python"] == platform.python_version() and record.env["device"] == "cpu"
    assert record.created_at <= record.heartbeat_at == record.finished_at
    loaded = record.test_scores()
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, scores)

    copy = RunRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert copy == record and copy.test_scores() is None


def test_dense_score_matrix_keeps_its_shape(tmp_path):
    store = Store(tmp_path / "bench.db")
    run_id = start(store)
    scores = np.arange(12, dtype=np.float64).reshape(4, 3) / 7
    finish(store, run_id, test_scores=scores)
    np.testing.assert_array_equal(store.test_scores(run_id), scores.astype(np.float32))
    assert store.get_run(run_id).test_scores().shape == (4, 3)


def test_get_run_unknown_and_ambiguous_prefix(tmp_path):
    store = Store(tmp_path / "bench.db")
    base = store.get_run(start(store))
    for suffix in ("1", "2"):
        store.insert_record(RunRecord(**{**base.to_dict(), "id": "abcd" + suffix * 28}))
    with pytest.raises(StoreError, match=r"bench\.db: run id prefix 'abcd' is ambiguous"):
        store.get_run("abcd")
    assert store.get_run("ABCD2").id == "abcd" + "2" * 28
    with pytest.raises(StoreError, match="no run with id or prefix 'ffff'"):
        store.get_run("ffff")


def test_latest_done_is_the_skip_primitive(tmp_path):
    store = Store(tmp_path / "bench.db")
    assert store.latest_done("h1") is None
    store.fail_run(start(store), "RuntimeError: NaN loss")
    start(store)
    assert store.latest_done("h1") is None, "failed and running attempts never count as done"
    first = start(store)
    finish(store, first, map_c=60.0)
    assert store.latest_done("h1").id == first
    second = start(store)
    finish(store, second, map_c=65.0)
    assert store.latest_done("h1").id == second and store.latest_done("h1").metrics["map_c"] == 65.0
    assert store.latest_done("h2") is None


def test_every_attempt_is_kept_and_listing_picks_latest_done(tmp_path):
    store = Store(tmp_path / "bench.db")
    ids = {}
    for config_hash, method in (("h1", "negative"), ("h1", "negative"), ("h2", "ignore"), ("h1", "negative")):
        run_id = start(store, config_hash, method)
        finish(store, run_id)
        ids.setdefault(config_hash, []).append(run_id)
    failed = start(store, "h2", "ignore")
    store.fail_run(failed, "boom")

    all_runs = store.runs()
    assert [r.id for r in all_runs] == [*ids["h1"][:2], ids["h2"][0], ids["h1"][2], failed]
    assert [r.created_at for r in all_runs] == sorted(r.created_at for r in all_runs)
    latest = store.runs(latest_done_per_config=True)
    assert {r.config_hash: r.id for r in latest} == {"h1": ids["h1"][-1], "h2": ids["h2"][0]}
    assert [r.id for r in store.runs(latest_done_per_config=True, method="ignore")] == [ids["h2"][0]]
    assert [r.id for r in store.runs(status="failed")] == [failed]
    assert len(store.runs(status="done", dataset="scene+rpa[p=0.5]")) == 4
    assert store.runs(dataset="voc") == []
    with pytest.raises(ValueError, match="unknown run status 'finished'"):
        store.runs(status="finished")
    with pytest.raises(ValueError, match="contradicts"):
        store.runs(status="failed", latest_done_per_config=True)


def test_failure_record_is_final(tmp_path):
    store = Store(tmp_path / "bench.db")
    run_id = start(store)
    store.fail_run(run_id, "KeyboardInterrupt: interrupted at epoch 2")
    record = store.get_run(run_id)
    assert record.status == "failed" and record.error == "KeyboardInterrupt: interrupted at epoch 2"
    assert record.finished_at is not None and record.metrics is None
    with pytest.raises(StoreError, match=f"run {run_id} is already failed"):
        finish(store, run_id)
    with pytest.raises(StoreError, match="already failed"):
        store.fail_run(run_id, "again")
    store.heartbeat(run_id)
    assert store.get_run(run_id).to_dict() == record.to_dict()
    with pytest.raises(StoreError, match="no run with id 0123"):
        store.fail_run("0123", "x")
    with pytest.raises(StoreError, match="no run with id 0123"):
        store.heartbeat("0123")


def test_failing_finish_changes_nothing(tmp_path):
    """A write that fails half-way (the score insert) rolls back the status update before it."""
    store = Store(tmp_path / "bench.db")
    run_id = start(store)
    before = store.get_run(run_id).to_dict()
    with sqlite3.connect(store.path) as conn:
        conn.execute("CREATE TRIGGER full_disk BEFORE INSERT ON test_scores "
                     "BEGIN SELECT RAISE(ABORT, 'simulated: database or disk is full'); END")
    with pytest.raises(StoreError, match="bench.db: simulated: database or disk is full"):
        finish(store, run_id, test_scores=np.ones(10))
    assert store.get_run(run_id).to_dict() == before
    assert store.test_scores(run_id) is None

    with pytest.raises(ValueError, match="field 'metrics' cannot be stored as JSON"):
        finish(store, run_id, metrics={"map_c": object()})
    with pytest.raises(ValueError, match="per_class_ap has 2 entries, class_names 6"):
        finish(store, run_id, per_class_ap=[0.1, 0.2])
    assert store.get_run(run_id).to_dict() == before

    done = start(store)
    finish(store, done, map_c=50.0)
    stored = store.get_run(done).to_dict()
    with pytest.raises(StoreError, match="already done"):
        finish(store, done, map_c=99.0)
    assert store.get_run(done).to_dict() == stored


def test_insert_record_never_duplicates(tmp_path):
    store = Store(tmp_path / "bench.db")
    run_id = start(store)
    finish(store, run_id, test_scores=np.arange(4))
    record, blob = store.get_run(run_id), store.scores_blob(run_id)
    other = Store(tmp_path / "other.db")
    assert other.insert_record(record, blob) is True
    assert other.insert_record(record, blob) is False
    assert [r.id for r in other.runs()] == [run_id]
    np.testing.assert_array_equal(other.get_run(run_id).test_scores(), np.arange(4, dtype=np.float32))
    fresh = RunRecord(**{**record.to_dict(), "id": "f" * 32})
    assert other.insert_record(fresh, np.full(3, 0.5)) is True
    np.testing.assert_array_equal(other.test_scores("f" * 32), np.full(3, 0.5, dtype=np.float32))
    with pytest.raises(ValueError, match="field 'status' must be one of"):
        other.insert_record(RunRecord(**{**record.to_dict(), "id": "e" * 32, "status": "finished"}))


def test_artifacts_round_trip_and_replace(tmp_path):
    store = Store(tmp_path / "bench.db")
    assert store.get_artifact("class_prior", "k") is None
    prior = np.linspace(0, 1, 80, dtype=np.float32)
    store.put_artifact("class_prior", "k", prior.tobytes(), {"run_id": "abc", "spearman": math.nan})
    payload, meta = store.get_artifact("class_prior", "k")
    np.testing.assert_array_equal(np.frombuffer(payload, np.float32), prior)
    assert meta == {"run_id": "abc", "spearman": None}
    store.put_artifact("class_prior", "k", b"new", {"run_id": "def"})
    assert store.get_artifact("class_prior", "k") == (b"new", {"run_id": "def"})
    assert store.get_artifact("other_kind", "k") is None


def test_start_run_records_this_environment(tmp_path):
    store = Store(tmp_path / "bench.db")
    run_id = store.start_run(config={"device": "cpu"}, config_hash="h", method="m", dataset="d", seed=0,
                             split_seed=0, manifest_sha256="0" * 64)
    env = store.get_run(run_id).env
    assert env["python"] == platform.python_version() and env["hostname"] == socket.gethostname()
    assert env["device"] == "cpu" and "git_commit" in env and "git_dirty" in env


def test_records_pickle_with_their_lazy_scores(tmp_path):
    """Records cross process boundaries (sweep workers, Ray); their scores still load on the other side."""
    store = Store(tmp_path / "bench.db")
    run_id = start(store)
    finish(store, run_id, test_scores=np.arange(5))
    copy = pickle.loads(pickle.dumps(store.get_run(run_id)))
    np.testing.assert_array_equal(copy.test_scores(), np.arange(5, dtype=np.float32))
    assert copy.to_dict() == store.get_run(run_id).to_dict()
