"""DDP on the CPU (gloo, two processes): the same updates as one process, and ``torchrun -m bench run``."""
from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from torch import nn

from bench.plugins.method import LabelStore
from bench.plugins.registry import DATASETS, METHODS
from bench.runs.recipe import ImageRecipe
from bench.store import Store
from bench.training.finetune.loop import ddp_gradient_scale, fit
from bench.training.finetune.setup import FitSetup
from bench.training.images import BadImages, ImageRows, image_transform
from bench.training.images.inference import Precision
from bench.training.tensors import label_tensor

ROWS, SIZE = 16, 32
RECIPE = ImageRecipe(epochs=2, batch_size=8, lr=1e-2, ema_decay=0.9, image_size=SIZE)


def _setup(method: str) -> FitSetup:
    data = DATASETS.get("coco-mini")().load()
    paths = data.train.images[:ROWS]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, data.num_classes))  # no batch norm: per-process statistics would differ
    return FitSetup(
        model=model, method=METHODS.get(method)(), recipe=RECIPE, seed=3,
        label_store=LabelStore(label_tensor(data.train.labels[:ROWS])),
        train_rows=ImageRows(paths, image_transform(SIZE, train=True), SIZE, seed=3),
        train_bad=BadImages("train", paths), device=torch.device("cpu"), precision=Precision(), workers=0,
    )


def _ddp_worker(rank: int, rendezvous: str, method: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=2)
    try:
        result = fit(_setup(method), select_best=False)
        if rank == 0:
            torch.save({"raw": result.raw_state, "ema": result.ema_state, "steps": result.steps}, out)
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("method", ["negative", "ll-r"])  # reduction sum and mean
def test_two_processes_make_the_updates_of_one(tmp_path, method):
    single = fit(_setup(method), select_best=False)
    context = multiprocessing.get_context("spawn")  # fork after torch ran threads can deadlock
    out = tmp_path / "ddp.pt"
    workers = [context.Process(target=_ddp_worker, args=(r, str(tmp_path / "rdv"), method, str(out))) for r in range(2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    ddp = torch.load(out, weights_only=True)
    assert ddp["steps"] == single.steps == 2 * 2
    for name in ("raw", "ema"):
        reference = getattr(single, f"{name}_state")
        for key, value in reference.items():
            assert torch.allclose(ddp[name][key], value, rtol=1e-5, atol=1e-6), (name, key)
    assert not torch.equal(single.raw_state["4.weight"], _setup(method).model.state_dict()["4.weight"])


def test_gradient_scale_follows_the_reduction():
    assert ddp_gradient_scale(METHODS.get("negative")(), 4) == 4.0
    assert ddp_gradient_scale(METHODS.get("negative")(reduction="mean"), 4) == 1.0
    assert ddp_gradient_scale(METHODS.get("ll-r")(), 4) == 1.0


def test_torchrun_two_processes_write_one_record(tmp_path):
    store = tmp_path / "ddp.db"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "bench", "run", "--method", "negative", "--dataset", "coco-mini", "--mode", "finetune",
               "--backbone", "test_resnet", "--set", "image_size=48", "--epochs", "2", "--set", "batch_size=32",
               "--workers", "0", "--store", str(store), "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               cwd=Path(__file__).resolve().parents[2], start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # torchrun and the workers it started
            process.wait()
    assert process.returncode == 0, stderr[-2000:]
    assert stdout.count("done: negative on coco-mini") == 1  # rank 0 alone reports
    runs = Store(store).runs()
    assert len(runs) == 1
    record = runs[0]
    assert record.status == "done" and record.cost["device_count"] == 2 and record.extra["world_size"] == 2
    assert record.cost["steps"] == 2 * 4 and record.cost["epochs"] == 2  # ceil(ceil(101 / 2) / 16) per epoch
    assert np.isfinite(record.metrics["map_c"]) and record.test_scores().shape == (128 * 80,)
    assert record.cost["device_hours"] > 0 and record.cost["samples_per_s"] > 0
    assert not (tmp_path / "checkpoints" / record.config_hash).exists()
