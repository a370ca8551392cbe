"""Resume: a sweep killed mid-way and started again finishes only the rest, with no duplicate done
record; ``--dry-run`` shows each cell's state and what would run. The killed sweep is the real
``bench`` command in a subprocess; the dry run and the restart run the same CLI in this process."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli.app import app
from bench.store import Store
from bench.sweep.worker import scratch_root

BENCH = str(Path(sys.executable).with_name("bench"))
SEEDS = "0,1,2,3,4,5"
KILL_AFTER_DONE = 2
TIMEOUT_S = 300


def _sweep(store: Path, *extra: str) -> list[str]:
    return ["sweep", "--method", "negative", "--dataset", "scene", "--seeds", SEEDS, "--epochs", "1",
            "--workers", "1", "--no-live", "--store", str(store), *extra]


def _scratch_folders() -> set[Path]:
    return set(Path(scratch_root() or tempfile.gettempdir()).glob("bench-cell-*"))


def _done(store: Path) -> int:
    if not store.exists():
        return 0
    return sum(r.status == "done" for r in Store(store).runs())


@pytest.mark.slow
def test_killed_sweep_resumes_with_only_the_rest(tmp_path):
    store = tmp_path / "bench.db"
    scratch_before = _scratch_folders()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen([BENCH, *_sweep(store)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + TIMEOUT_S
    while _done(store) < KILL_AFTER_DONE and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    before = _done(store)
    assert KILL_AFTER_DONE <= before < 6, "the first sweep should be killed mid-way"

    runner = CliRunner()
    dry = runner.invoke(app, _sweep(store, "--dry-run"), terminal_width=200)
    assert dry.exit_code == 0, dry.output
    assert f"6 cells: {before} done, 0 failed, {6 - before} pending; {6 - before} would run" in dry.output
    assert dry.output.count("skip: done as") == before

    second = runner.invoke(app, _sweep(store))
    assert second.exit_code == 0, second.output
    assert f"sweep of 6 cells: {6 - before} done now, 0 failed, {before} already done (skipped)" in second.output
    runs = Store(store).runs()
    done_per_config = Counter(r.config_hash for r in runs if r.status == "done")
    assert len(done_per_config) == 6 and set(done_per_config.values()) == {1}
    assert sorted(r.seed for r in runs if r.status == "done") == [0, 1, 2, 3, 4, 5]
    assert not [r for r in runs if r.status != "done"]   # the cell in flight at the kill left nothing behind
    assert _scratch_folders() <= scratch_before           # not even its scratch folder
