"""Batches of images: the epoch order, the per-process shard (DDP) and the DataLoader.

``epoch_order(n, seed, epoch)`` is a permutation drawn from a generator seeded by (seed, epoch), so
the order of epoch e is the same in an uninterrupted and a resumed run. ``shard`` gives one process
its part of an order (``DistributedSampler``'s convention: padded by repeating the first rows to a
multiple of the process count for training, unpadded for scoring). ``image_loader`` iterates
``ImageBatch(images, positions, errors)`` with worker processes (``default_workers``) and, for
CUDA, pinned memory.
"""
from __future__ import annotations

import os
from typing import NamedTuple, Sequence

import torch
from torch.utils.data import DataLoader

from bench.training.images.rows import ImageRows, sample_seed

ORDER_STREAM = 2**40  # the seed stream of the epoch order, beyond any image position


class ImageBatch(NamedTuple):
    """Images (B, 3, S, S) float32, their positions in the split (B,) int64 and read errors ("" = ok)."""

    images: torch.Tensor
    positions: torch.Tensor
    errors: tuple[str, ...]


def collate(samples: Sequence[tuple[torch.Tensor, int, str]]) -> ImageBatch:
    """Stack ``ImageRows`` items into an ``ImageBatch``."""
    images, positions, errors = zip(*samples)
    return ImageBatch(torch.stack(images), torch.tensor(positions, dtype=torch.int64), tuple(errors))


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The training order of ``n`` rows in ``epoch`` (a permutation, int64)."""
    generator = torch.Generator().manual_seed(sample_seed(seed, epoch, ORDER_STREAM))
    return torch.randperm(n, generator=generator)


def shard(order: torch.Tensor, rank: int, world: int, pad: bool) -> torch.Tensor:
    """Process ``rank``'s rows of ``order``: every ``world``-th from position ``rank``, after padding
    ``order`` with its own first rows to a multiple of ``world`` when ``pad``."""
    if world == 1:
        return order
    if pad and order.numel() % world:
        extra = world - order.numel() % world
        order = torch.cat([order, order.repeat(extra // max(order.numel(), 1) + 1)[:extra]])
    return order[rank::world]


def default_workers(device: torch.device) -> int:
    """Loader processes when a run does not say: up to 8 for CUDA; for CPU training a quarter of the
    cores (none on a 2-core machine, where workers would take the cores the model trains on)."""
    cores = os.cpu_count() or 1
    return min(8, cores) if device.type == "cuda" else min(8, cores // 4)


def image_loader(rows: ImageRows, order: torch.Tensor, batch_size: int, workers: int,
                 device: torch.device) -> DataLoader:
    """A loader over ``rows`` in ``order`` (call ``rows.set_epoch`` first); the last batch may be short."""
    return DataLoader(
        rows, batch_size=batch_size, sampler=order.tolist(), num_workers=workers, collate_fn=collate,
        pin_memory=device.type == "cuda", drop_last=False,
    )
