"""``amp: fp16`` (the official code's precision): autocast float16 with a GradScaler, its state in the
checkpoint so ``--resume`` continues it. The scaler path runs on the CPU (torch autocasts float16
there too); the end-to-end CUDA run skips without a GPU."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from bench.plugins.registry import METHODS
from bench.runs.config import RunConfig, resolve_config
from bench.runs.execute import execute
from bench.runs.recipe import ImageRecipe
from bench.store import Store
from bench.training.checkpoint import LAST, RunCheckpoints
from bench.training.finetune.loop import fit
from bench.training.finetune.setup import FitSetup
from bench.training.images.inference import Precision, amp_dtype
from tests.helpers.finetune import interrupted_then_resumed, tiny_setup

ROWS, SIZE = 20, 16
RECIPE = ImageRecipe(epochs=2, batch_size=8, lr=1e-2, image_size=SIZE)


def _setup(tmp_path, precision: Precision, resume: bool = False) -> FitSetup:
    return tiny_setup(RECIPE, METHODS.get("negative")(), ROWS, SIZE, precision, checkpoints=tmp_path, resume=resume)


def test_amp_modes_map_to_autocast_dtypes(monkeypatch):
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert amp_dtype("fp16", cuda) is torch.float16 and amp_dtype("bf16", cuda) is torch.bfloat16
    assert amp_dtype("off", cuda) is None and amp_dtype("fp16", cpu) is None and amp_dtype("auto", cpu) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert amp_dtype("auto", cuda) is torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert amp_dtype("auto", cuda) is torch.bfloat16


def test_float16_trains_through_a_grad_scaler_whose_state_is_checkpointed(tmp_path):
    result = fit(_setup(tmp_path / "fp16", Precision(torch.float16)), select_best=False)
    scaler = RunCheckpoints(tmp_path / "fp16", "f" * 64).load(LAST)["scaler"]
    assert result.steps == 2 * 3 and set(scaler) >= {"scale", "_growth_tracker"}
    assert scaler["scale"] <= 2.0 ** 16  # starts at 2**16, halves on every step with inf/NaN gradients
    plain = fit(_setup(tmp_path / "fp32", Precision()), select_best=False)
    assert RunCheckpoints(tmp_path / "fp32", "f" * 64).load(LAST)["scaler"] == {}  # disabled: no state
    changed = [k for k, v in result.raw_state.items()
               if v.is_floating_point() and not torch.equal(v, plain.raw_state[k])]
    assert changed  # float16 forwards give other weights than float32


def test_a_resumed_float16_run_continues_its_scaler_exactly(tmp_path):
    whole = fit(_setup(tmp_path / "whole", Precision(torch.float16)), select_best=False)
    resumed = interrupted_then_resumed(lambda resume: _setup(tmp_path / "cut", Precision(torch.float16), resume))
    assert resumed.resumed_from_epoch == 1 and resumed.steps == whole.steps
    assert all(torch.equal(v, whole.raw_state[k]) for k, v in resumed.raw_state.items())


def test_set_amp_fp16_is_recorded_in_the_configuration():
    auto = resolve_config(RunConfig("negative", "coco-mini", mode="finetune", recipe=ImageRecipe()))
    fp16 = resolve_config(RunConfig("negative", "coco-mini", mode="finetune", recipe=ImageRecipe(amp="fp16")))
    assert fp16.config["recipe"]["amp"] == "fp16" and fp16.config_hash != auto.config_hash


@pytest.mark.skipif(not torch.cuda.is_available(), reason="float16 autocast with a GradScaler on CUDA needs a GPU")
def test_cuda_runs_fp16_with_a_grad_scaler(tmp_path):
    recipe = replace(ImageRecipe(backbone="test_resnet", image_size=32, epochs=1), amp="fp16")
    record = execute(RunConfig("negative", "coco-mini", mode="finetune", recipe=recipe, workers=0, device="cuda"),
                     Store(tmp_path / "runs.db"), progress=False).record
    assert record.extra["precision"]["amp"] == "float16" and record.extra["precision"]["grad_scaler"] is True
    assert record.cost["amp"] == "float16" and record.status == "done"
