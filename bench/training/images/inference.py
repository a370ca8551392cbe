"""Forward passes over a split's images: scores for evaluation, pooled features for the cache.

``infer(model, rows, ...)`` runs ``model`` in eval mode without gradient over every image of
``rows`` and returns its outputs as float32, one row per image in position order. Under DDP every
process takes an unpadded shard of the positions and rank 0 receives the whole array (the others
get None); the images that failed to read on any process are merged into ``bad`` on rank 0.
``Precision`` says how the forward runs on CUDA (autocast dtype, channels_last).
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from bench.training.distributed import World, gather_to_main, world
from bench.training.images import BadImages, ImageRows, image_loader, shard


@dataclass(frozen=True)
class Precision:
    """Autocast dtype (None: float32) and memory format of a model's forward."""

    autocast: torch.dtype | None = None
    channels_last: bool = False

    def context(self, device: torch.device):
        """The autocast context of a forward on ``device``."""
        if self.autocast is None:
            return nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.autocast)

    def batch(self, images: torch.Tensor, device: torch.device) -> torch.Tensor:
        """A loaded batch on ``device`` in the model's memory format."""
        images = images.to(device, non_blocking=True)
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of a recipe's ``amp`` on ``device``: None on the CPU or with "off";
    "auto" is bfloat16 where the GPU supports it, else float16."""
    if device.type != "cuda" or amp == "off":
        return None
    if amp == "bf16" or (amp == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16


def infer(model: nn.Module, rows: ImageRows, bad: BadImages, *, batch_size: int, workers: int,
          device: torch.device, precision: Precision = Precision(), collective: bool = True) -> np.ndarray | None:
    """Outputs (N, K) float32 of ``model`` for every image of ``rows`` (see the module docstring);
    ``collective=False`` scores every image in this process alone."""
    here = world() if collective else World()
    order = shard(torch.arange(len(rows)), here.rank, here.size, pad=False)
    positions, outputs = [], []
    model.eval()
    with torch.no_grad():
        for batch in image_loader(rows, order, batch_size, workers, device):
            bad.note(batch.positions, batch.errors)
            with precision.context(device):
                out = model(precision.batch(batch.images, device))
            outputs.append(out.float().cpu().numpy())
            positions.append(batch.positions.numpy())
    width = outputs[0].shape[1] if outputs else 0
    local = (np.concatenate(positions) if positions else np.zeros(0, np.int64),
             np.concatenate(outputs) if outputs else np.zeros((0, width), np.float32), dict(bad.found))
    parts = gather_to_main(local) if collective else [local]
    if parts is None:
        return None
    width = max(part[1].shape[1] for part in parts)
    result = np.zeros((len(rows), width), dtype=np.float32)
    for part_positions, part_outputs, part_bad in parts:
        result[part_positions] = part_outputs
        bad.merge(part_bad)
    return result
