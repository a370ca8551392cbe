"""Atomic checkpoints and ``--resume``: a run killed mid-training ends with the uninterrupted metrics."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.runs.config import RunConfig
from bench.runs.execute import execute
from bench.runs.recipe import ImageRecipe
from bench.store import Store
from bench.training.checkpoint import LAST, CheckpointError, RunCheckpoints, save_atomic

REPO = Path(__file__).resolve().parents[2]
RECIPE = ImageRecipe(backbone="test_resnet", image_size=48, epochs=4, batch_size=32, deterministic=True)
CLI_RECIPE = ["--backbone", "test_resnet", "--set", "image_size=48", "--epochs", "4", "--set", "batch_size=32",
              "--set", "deterministic=true"]


def test_atomic_save_leaves_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_atomic({"epoch": 1}, path)

    def broken_save(payload, handle):
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_atomic({"epoch": 2}, path)
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_checkpoints_belong_to_their_configuration(tmp_path):
    mine = RunCheckpoints(tmp_path, "a" * 64)
    assert mine.load(LAST) is None
    mine.save(LAST, {"epoch": 3, "weights": torch.ones(2)})
    assert mine.load(LAST)["epoch"] == 3
    (tmp_path / ("b" * 64)).mkdir()
    (tmp_path / ("a" * 64) / LAST).rename(tmp_path / ("b" * 64) / LAST)
    with pytest.raises(CheckpointError, match="another configuration"):
        RunCheckpoints(tmp_path, "b" * 64).load(LAST)
    (tmp_path / ("b" * 64) / LAST).write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="cannot be read"):
        RunCheckpoints(tmp_path, "b" * 64).load(LAST)
    mine.clear()
    assert not (tmp_path / ("a" * 64)).exists()


def _last_epoch(folder: Path) -> int | None:
    path = folder / LAST
    if not path.is_file():
        return None
    try:
        return int(torch.load(path, weights_only=True)["epoch"])
    except Exception:  # noqa: BLE001 - being replaced right now
        return None


def test_killed_run_resumes_to_the_metrics_of_an_uninterrupted_run(tmp_path):
    config = RunConfig("negative", "coco-mini", mode="finetune", recipe=RECIPE, workers=0)
    reference = execute(config, Store(tmp_path / "reference.db"), progress=False).record

    store_path = tmp_path / "killed.db"
    command = [sys.executable, "-m", "bench", "run", "--method", "negative", "--dataset", "coco-mini", "--mode",
               "finetune", *CLI_RECIPE, "--workers", "0", "--store", str(store_path), "--quiet"]
    threads = {"OMP_NUM_THREADS": str(torch.get_num_threads())}  # the reference's float reductions
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **threads},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    folder = tmp_path / "checkpoints" / reference.config_hash
    deadline = time.monotonic() + 240
    while _last_epoch(folder) is None and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = _last_epoch(folder)
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()[-2000:]
    assert killed_at is not None and 1 <= killed_at < RECIPE.epochs

    store = Store(store_path)
    assert [r.status for r in store.runs()] in (["stale"], ["running"])
    resumed = execute(RunConfig("negative", "coco-mini", mode="finetune", recipe=RECIPE, workers=0, resume=True),
                      store, progress=False).record
    assert resumed.extra["resumed_from_epoch"] == killed_at
    assert resumed.config_hash == reference.config_hash
    assert resumed.metrics == reference.metrics and resumed.selection == reference.selection
    assert np.array_equal(resumed.test_scores(), reference.test_scores())
    assert [h["loss"] for h in resumed.extra["history"]] == [h["loss"] for h in reference.extra["history"]]
    assert resumed.extra["test_variants"] == reference.extra["test_variants"]
    assert resumed.cost["steps"] == reference.cost["steps"] == 4 * 4
    assert not folder.exists()  # removed once the run is recorded


def test_without_resume_a_new_attempt_starts_from_scratch(tmp_path):
    config = RunConfig("negative", "coco-mini", mode="finetune", workers=0,
                       recipe=ImageRecipe(backbone="test_resnet", image_size=32, epochs=1, batch_size=64))
    store = Store(tmp_path / "runs.db")
    first = execute(config, store, progress=False).record
    RunCheckpoints(tmp_path / "checkpoints", first.config_hash).save(LAST, {"epoch": 1})
    with pytest.warns(UserWarning, match="starting over: .*last.pt holds an interrupted attempt"):
        again = execute(config, store, force=True, progress=False).record
    assert again.extra["resumed_from_epoch"] is None and again.metrics == first.metrics
