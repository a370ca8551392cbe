"""The driver's store path: 4 concurrent drivers x 50 cell results lose nothing; ``bench store merge``."""
from __future__ import annotations

import multiprocessing
import uuid
from datetime import datetime, timezone

import numpy as np
from typer.testing import CliRunner

from bench.cli.app import app
from bench.store import RunRecord, Store, encode_scores
from bench.sweep.deps import PRIOR, SharedArtifact
from bench.sweep.grid import Cell, expand
from bench.sweep.recording import record_result
from bench.sweep.shorthand import Shorthand, shorthand_spec
from bench.sweep.worker import CellResult

WRITERS, PER_WRITER = 4, 50


def _done_record(cell: Cell, writer: int, i: int) -> RunRecord:
    now = datetime.now(timezone.utc).isoformat()
    return RunRecord(
        id=uuid.uuid4().hex, config_hash=f"{cell.config_hash}-{writer}-{i}", status="done", method=cell.method,
        dataset=cell.dataset, config=cell.config, manifest_sha256="0" * 64, seed=writer, split_seed=i,
        evaluator="partial", selection={"policy": "val", "epoch": 1}, metrics={"map_c": float(i)},
        per_class_ap=[0.5] * 6, class_names=list("abcdef"), timings={"wall_s": 0.1}, cost={}, env={},
        host="worker", pid=writer, created_at=now, finished_at=now, heartbeat_at=now, error=None, extra={},
    )


def _writer(path: str, cell: Cell, writer: int) -> None:
    """One driver recording 50 cell results: 45 with a done record, scores and a (shared) artifact,
    5 that came back without a record (the driver records them as failed)."""
    store = Store(path)
    prior = SharedArtifact(PRIOR, "shared-key", np.arange(6, dtype="<f8").tobytes(), {"key": "shared-key"})
    for i in range(PER_WRITER):
        if i % 10 == 9:
            record_result(store, cell, CellResult(cell.index, error=f"boom {writer}-{i}"))
            continue
        record = _done_record(cell, writer, i)
        scores = encode_scores(np.full(7, writer * 1000 + i, dtype=np.float32))
        record_result(store, cell, CellResult(cell.index, [record.to_dict()], {record.id: scores}, [prior]))


def test_four_concurrent_drivers_lose_no_record(tmp_path):
    path = tmp_path / "bench.db"
    Store(path)
    cell = expand(shorthand_spec(Shorthand(methods="negative", datasets="scene", epochs=1)))[0]
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_writer, args=(str(path), cell, w)) for w in range(WRITERS)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(120)
    assert [p.exitcode for p in writers] == [0] * WRITERS
    store = Store(path)
    runs = store.runs()
    assert len(runs) == WRITERS * PER_WRITER == len({r.id for r in runs})
    done = [r for r in runs if r.status == "done"]
    failed = [r for r in runs if r.status == "failed"]
    assert len(done) == WRITERS * 45 and len(failed) == WRITERS * 5
    assert {(r.seed, r.split_seed) for r in done} == {(w, i) for w in range(WRITERS) for i in range(PER_WRITER)
                                                      if i % 10 != 9}
    assert sorted(r.error for r in failed) == sorted(f"boom {w}-{i}" for w in range(WRITERS)
                                                     for i in (9, 19, 29, 39, 49))
    for record in done[::17]:
        assert np.array_equal(record.test_scores(), np.full(7, record.seed * 1000 + record.split_seed, np.float32))
    assert np.array_equal(np.frombuffer(store.get_artifact(PRIOR, "shared-key")[0], "<f8"), np.arange(6))


def test_store_merge_command_adds_only_missing_runs(tmp_path):
    cell = expand(shorthand_spec(Shorthand(methods="negative", datasets="scene", epochs=1)))[0]
    here, other = Store(tmp_path / "here.db"), Store(tmp_path / "other.db")
    shared = _done_record(cell, 0, 0)
    here.insert_record(shared)
    other.insert_record(shared)
    other.insert_record(_done_record(cell, 1, 1), encode_scores(np.ones(3, np.float32)))
    other.put_artifact(PRIOR, "k", b"x", {"key": "k"})
    runner = CliRunner()
    first = runner.invoke(app, ["store", "merge", str(other.path), "--store", str(here.path)])
    assert first.exit_code == 0, first.output
    assert "1 run(s) added" in first.output and "1 already here" in first.output
    assert "1 artifact(s) added" in first.output
    again = runner.invoke(app, ["store", "merge", str(other.path), "--store", str(here.path)])
    assert "0 run(s) added" in again.output and "2 already here" in again.output
    assert len(here.runs()) == 2 and here.get_artifact(PRIOR, "k") == (b"x", {"key": "k"})
    missing = runner.invoke(app, ["store", "merge", str(tmp_path / "nope.db"), "--store", str(here.path)])
    assert missing.exit_code == 2 and "no such file" in missing.output
