"""The global batch of a training step, for rules that rank entries over the whole batch.

Under multi-process training (DDP, ``torchrun``) each of N processes computes its loss on its own
rows: the image loader gives process r the rows r, r + N, r + 2N, ... of the epoch's order
(``bench.training.images.loader.shard``), so row j of process r's batch is row ``j*N + r`` of the
batch one process would see with the same global batch size. A batch-scoped rule (CSL's K*B top-K,
Large Loss Matters' k-th largest loss) must rank over that global batch, as the single-process
official code does. The functions here exchange only the values the rule needs (detached scores,
never logits or gradients), and alone (no process group, or a group of one) communicate nothing
and compute on the local batch exactly as before. Every process must call the same functions in the
same order at every step (they are collectives), also with an empty local batch.

* ``batch_world(rows, device)``: the rank, the process count and every process's row count (one
  ``all_gather`` of one integer);
* ``global_sum(values)``: the sum of a tensor over the processes (``all_reduce``);
* ``global_smallest_mask(values, k, world)``: the k smallest entries of the flattened global batch,
  ties taken in global row-major order (each process sends its own k smallest, with their global
  positions);
* ``global_kth_largest(values, k, world)``: the k-th largest value of the flattened global batch
  (each process sends its own k largest values).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class BatchWorld:
    """This process's ``rank``, the process count ``size`` and every process's batch ``rows`` (by rank)."""

    rank: int
    size: int
    rows: tuple[int, ...]

    @property
    def total_rows(self) -> int:
        """B, the rows of the global batch."""
        return sum(self.rows)


def _group_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def batch_world(rows: int, device: torch.device) -> BatchWorld:
    """The process group of this step and its row counts (a collective when there are N > 1 processes)."""
    size = _group_size()
    if size == 1:
        return BatchWorld(0, 1, (rows,))
    parts = [torch.zeros(1, dtype=torch.int64, device=device) for _ in range(size)]
    dist.all_gather(parts, torch.tensor([rows], dtype=torch.int64, device=device))
    return BatchWorld(dist.get_rank(), size, tuple(int(p) for p in parts))


def global_sum(values: torch.Tensor) -> torch.Tensor:
    """``values`` summed over the processes (a detached copy; ``values`` itself when alone)."""
    if _group_size() == 1:
        return values
    total = values.detach().clone()
    dist.all_reduce(total)
    return total


def stable_smallest_mask(values: torch.Tensor, k: int) -> torch.Tensor:
    """Bool mask of the ``k`` smallest entries along the last dim, ties taken in index order, i.e.
    the first ``k`` of a stable ascending sort. ``values`` may hold +inf for excluded entries; a
    row with fewer than ``k`` finite values selects all of them."""
    k = min(k, values.shape[-1])
    if k <= 0:
        return torch.zeros_like(values, dtype=torch.bool)
    if values.dim() == 1 and values.numel() >= SAMPLED_MIN_RATIO * k:
        sampled = _sampled_smallest_mask(values, k)
        if sampled is not None:
            return sampled
    return _topk_smallest_mask(values, k)


def _topk_smallest_mask(values: torch.Tensor, k: int) -> torch.Tensor:
    """``stable_smallest_mask`` for 1 <= k <= the last dim, by a top-k over all of ``values``."""
    kth = values.topk(k, dim=-1, largest=False, sorted=False).values.amax(dim=-1, keepdim=True)
    selected = values <= kth
    if bool((selected.sum(dim=-1, keepdim=True) > k).any()):
        tied = values == kth
        below = selected & ~tied
        selected = below | (tied & (tied.cumsum(dim=-1) <= k - below.sum(dim=-1, keepdim=True)))
    if not bool(torch.isfinite(kth).all()):
        selected &= torch.isfinite(values)
    return selected


SAMPLED_MIN_RATIO = 64  # n / k from which a 1-D selection first thresholds on a sample
SAMPLE_STRIDE = 61  # a prime: on a flattened (B, C) batch the sample walks across the columns


def _sampled_smallest_mask(values: torch.Tensor, k: int) -> torch.Tensor | None:
    """``stable_smallest_mask`` of a long 1-D ``values`` (n >= 64 k) without a top-k over all of it:
    t, the j-th smallest of every 61st value (j = 2 k / 61 + 6, about twice the k / 61 expected
    below the k-th smallest), bounds the candidates ``values <= t``; when there are at least k of
    them, the k smallest of ``values`` are the k smallest candidates (every other value is > t), so
    the mask is exact, ties in index order as the full path. None (take the full path) when t is not
    finite or fewer than k values are <= t. One comparison pass over ``values`` instead of a top-k:
    a 64 x 9,600 batch with k = 320 takes under half the time (benchmarks/test_selective_speed.py)."""
    sample = values[::SAMPLE_STRIDE]
    rank = min(sample.numel(), 2 * k // SAMPLE_STRIDE + 6)
    bound = sample.topk(rank, largest=False, sorted=False).values.amax()
    if not bool(torch.isfinite(bound)):
        return None
    where = (values <= bound).nonzero().squeeze(1)
    if where.numel() < k:
        return None
    mask = torch.zeros_like(values, dtype=torch.bool)
    mask[where[_topk_smallest_mask(values[where], k)]] = True  # candidates in index order: the same ties
    return mask


def _gather(value: torch.Tensor, size: int) -> torch.Tensor:
    parts = [torch.empty_like(value) for _ in range(size)]
    dist.all_gather(parts, value.contiguous())
    return torch.cat(parts)


def global_smallest_mask(values: torch.Tensor, k: int, world: BatchWorld) -> torch.Tensor:
    """Bool mask, shaped as the local (b, C) ``values``, of this process's entries among the ``k``
    smallest of the global batch flattened in row-major order (global row ``j*N + r``), ties in that
    order: the first ``k`` of a stable ascending sort. +inf marks excluded entries; with fewer than
    ``k`` finite values all of them are taken. Alone this is ``stable_smallest_mask`` of the flattened
    batch. Each process sends at most ``k`` (value, position) pairs."""
    if world.size == 1:
        return stable_smallest_mask(values.reshape(-1), k).view_as(values)
    local = values.detach().reshape(-1)
    columns = values.shape[-1]
    own = stable_smallest_mask(local, k) & torch.isfinite(local)
    flat = own.nonzero().squeeze(1)
    keys = ((flat // columns) * world.size + world.rank) * columns + flat % columns
    sent_values = torch.full((k,), torch.inf, dtype=local.dtype, device=local.device)
    sent_keys = torch.full((k,), -1, dtype=torch.int64, device=local.device)
    sent_values[:flat.numel()], sent_keys[:flat.numel()] = local[flat], keys
    all_values, all_keys = _gather(sent_values, world.size), _gather(sent_keys, world.size)
    by_key = all_keys.argsort()
    ranked = by_key[all_values[by_key].argsort(stable=True)][:k]
    chosen = all_keys[ranked[torch.isfinite(all_values[ranked])]]
    rows = chosen // columns
    mine = chosen[rows % world.size == world.rank]
    mask = torch.zeros_like(values, dtype=torch.bool)
    mask[(mine // columns) // world.size, mine % columns] = True
    return mask


def global_kth_largest(values: torch.Tensor, k: int, world: BatchWorld) -> torch.Tensor:
    """The ``k``-th largest value (0-d tensor) of the global batch's flattened ``values``, 1 <= k <=
    the global entry count. Each process sends its ``k`` largest values (padded with -inf)."""
    local = values.detach().reshape(-1)
    if world.size == 1:
        return local.topk(k).values[-1]
    top = local.topk(min(k, local.numel())).values
    sent = torch.full((k,), -torch.inf, dtype=local.dtype, device=local.device)
    sent[:top.numel()] = top
    return _gather(sent, world.size).topk(k).values[-1]
