"""CUDA paths of the training engine: AMP (bf16 / fp16 + GradScaler), channels_last, pinned memory,
peak CUDA memory, features on the GPU. Skipped without a CUDA device."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.plugins.registry import DATASETS, METHODS
from bench.runs.config import RunConfig
from bench.runs.execute import execute
from bench.runs.recipe import ImageRecipe
from bench.store import Store
from bench.training.feature_cache import cached_features
from bench.training.images import ImageRows, image_loader, image_transform
from bench.training.images.inference import amp_dtype

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none available)")]
CUDA = torch.device("cuda")
TINY = ImageRecipe(backbone="resnet18", image_size=64, epochs=2, batch_size=32)


@pytest.mark.parametrize("amp, dtype", [("auto", None), ("bf16", "bfloat16"), ("fp16", "float16")])
def test_amp_training_records_precision_and_cuda_memory(tmp_path, monkeypatch, amp, dtype):
    logits_dtypes, loss_dtypes = set(), set()
    guarded = METHODS.get("negative").loss  # the float32 guard every method gets

    def spying(self, logits, labels, state=None):
        logits_dtypes.add(logits.dtype)
        loss = guarded(self, logits, labels, state)
        loss_dtypes.add(loss.dtype)
        return loss

    monkeypatch.setattr(METHODS.get("negative"), "loss", spying)
    record = execute(RunConfig("negative", "coco-mini", mode="finetune", device="cuda", workers=2,
                               recipe=ImageRecipe(**{**TINY.to_dict(), "amp": amp})),
                     Store(tmp_path / "runs.db"), progress=False).record
    expected = dtype or ("bfloat16" if torch.cuda.is_bf16_supported() else "float16")
    assert record.extra["precision"] == {"amp": expected, "channels_last": True, "deterministic": False}
    assert record.cost["device"] == "cuda" and record.cost["peak_cuda_mb"] > 0
    assert np.isfinite(record.metrics["map_c"]) and record.cost["samples_per_s"] > 0
    assert logits_dtypes == {getattr(torch, expected)}  # the forward ran under autocast
    assert loss_dtypes == {torch.float32}  # the loss did not


def test_amp_choice():
    assert amp_dtype("off", CUDA) is None and amp_dtype("fp16", CUDA) == torch.float16
    assert amp_dtype("bf16", torch.device("cpu")) is None


def test_loader_pins_memory_for_cuda():
    data = DATASETS.get("coco-mini")().load()
    rows = ImageRows(data.train.images[:8], image_transform(32, train=False), 32)
    batch = next(iter(image_loader(rows, torch.arange(8), 4, 2, CUDA)))
    assert batch.images.is_pinned()


def test_gpu_features_match_cpu_features(tmp_path):
    data = DATASETS.get("coco-mini")().load()
    paths = data.train.images[:16]
    recipe = ImageRecipe(backbone="resnet18", image_size=64, batch_size=8)
    on_cpu = cached_features(paths, recipe, tmp_path / "cpu", torch.device("cpu"), workers=0)
    on_gpu = cached_features(paths, recipe, tmp_path / "gpu", CUDA, workers=2)
    assert on_gpu.key == on_cpu.key
    assert np.allclose(on_gpu.features.astype(np.float32), on_cpu.features.astype(np.float32), rtol=1e-2, atol=1e-2)
