"""``bench.store.gc`` and ``bench.store.listing``: the plan on a constructed store, and the rows of ``bench runs``."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bench.core.errors import InputError
from bench.store import Store
from bench.store.gc import apply_gc, checkpoint_root, plan_gc
from bench.store.listing import age_text, list_runs, matches, parse_since

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def _attempt(store: Store, config_hash: str, method: str = "negative", dataset: str = "scene") -> str:
    return store.start_run(config={}, config_hash=config_hash, method=method, dataset=dataset, seed=0, split_seed=0,
                           manifest_sha256="0" * 64, env={})


def _stop_heartbeat(store: Store, run_id: str) -> None:
    with store._writing() as conn:
        conn.execute("UPDATE runs SET host = 'elsewhere', heartbeat_at = '2000-01-01T00:00:00+00:00' WHERE id = ?",
                     (run_id,))


def test_the_checkpoint_root_is_the_finetune_modes(tmp_path, monkeypatch):
    from bench.training.checkpoint import checkpoint_root as training_root

    monkeypatch.delenv("BENCH_CHECKPOINTS", raising=False)
    assert checkpoint_root(tmp_path / "s.db") == training_root(tmp_path / "s.db")
    monkeypatch.setenv("BENCH_CHECKPOINTS", str(tmp_path / "elsewhere"))
    assert checkpoint_root(tmp_path / "s.db") == training_root(tmp_path / "s.db") == tmp_path / "elsewhere"


def test_the_plan_keeps_live_and_unknown_folders(tmp_path):
    store = Store(tmp_path / "s.db")
    failed, stale, live = _attempt(store, "a" * 64), _attempt(store, "b" * 64), _attempt(store, "c" * 64)
    store.fail_run(failed, "RuntimeError: boom")
    _stop_heartbeat(store, stale)
    root = tmp_path / "ckpt"
    for name in ("a" * 64, "b" * 64, "c" * 64, "unknown"):
        (root / name).mkdir(parents=True)
        (root / name / "last.pt").write_bytes(b"x" * 10)
    plan = plan_gc(store, root)
    assert [run_id for run_id, _ in plan.stale] == [stale]
    assert [(f.name, size, status) for f, size, status in plan.removals] == [("a" * 64, 10, "failed"),
                                                                          ("b" * 64, 10, "failed")]
    assert {f.name: why for f, why in plan.kept} == {"c" * 64: "a run of it is still running",
                                                    "unknown": "no run in this store"}
    apply_gc(store, plan)
    assert store.get_run(stale).status == "failed" and store.get_run(live).status == "running"
    assert sorted(p.name for p in root.iterdir()) == ["c" * 64, "unknown"]
    assert plan_gc(store, root).removals == [] and plan_gc(store, tmp_path / "absent").removals == []


def test_a_retried_configuration_is_judged_by_its_latest_attempt(tmp_path):
    store = Store(tmp_path / "s.db")
    store.fail_run(_attempt(store, "a" * 64), "interrupted")
    _attempt(store, "a" * 64)  # --resume is training it again
    (tmp_path / "ckpt" / ("a" * 64)).mkdir(parents=True)
    assert plan_gc(store, tmp_path / "ckpt").removals == []


def test_parse_since():
    assert parse_since("90m", NOW) == NOW - timedelta(minutes=90)
    assert parse_since("2d", NOW) == NOW - timedelta(days=2)
    assert parse_since("2026-11-30", NOW) == datetime(2026, 11, 30, tzinfo=timezone.utc)
    with pytest.raises(InputError, match="give an age"):
        parse_since("last week", NOW)


def test_rows_and_filters(tmp_path):
    store = Store(tmp_path / "s.db")
    _attempt(store, "a" * 64, method="selective[likelihood_topk=3]", dataset="scene+rpa[p=0.5]")
    failed = _attempt(store, "b" * 64, method="negative")
    store.fail_run(failed, "ValueError:  bad\n  input")
    records = store.runs()
    rows = list_runs(records)
    assert [r["status"] for r in rows] == ["running", "failed"] and rows[1]["reason"] == "ValueError: bad input"
    assert [r["method"] for r in list_runs(records, method="selective")] == ["selective[likelihood_topk=3]"]
    assert list_runs(records, method="select") == []
    assert len(list_runs(records, dataset="scene")) == 2 and len(list_runs(records, dataset="scene+rpa[p=0.5]")) == 1
    assert list_runs(records, since=datetime(2999, 1, 1, tzinfo=timezone.utc)) == []
    assert matches("coco-mini", "coco", "[+") is False
    assert [age_text(s) for s in (5, 125, 7300, 200000)] == ["5s", "2m", "2h", "2d"]
