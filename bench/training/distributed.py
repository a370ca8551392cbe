"""Multi-process training: ``torchrun --nproc-per-node N -m bench run ...`` (DDP).

torchrun sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address; ``init_from_env``
joins the process group (``nccl`` for CUDA, ``gloo`` for the CPU) and gives each process its device
(``cuda:LOCAL_RANK``); ``bench.cli.torchrun`` runs a configuration on every process. The collective
evaluation's scores are gathered on rank 0 (``gather_to_main``). A single process (no ``WORLD_SIZE`` > 1) is
world 1, rank 0, and every helper here is then a no-op.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's rank among ``size`` processes."""

    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def world() -> World:
    """The current process group's (rank, size); (0, 1) without one."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def launched_by_torchrun() -> bool:
    """True when the environment asks for more than one process (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device: str) -> str:
    """Join the process group torchrun describes; return this process's device ("cuda:i" or "cpu")."""
    wants_cuda = torch.device(device).type == "cuda"
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if wants_cuda else "gloo")
    if wants_cuda:
        torch.cuda.set_device(local_rank)
        return f"cuda:{local_rank}"
    return "cpu"


def barrier() -> None:
    """Wait for every process (no-op alone)."""
    if world().size > 1:
        dist.barrier()


def broadcast_from_main(value: Any) -> Any:
    """Rank 0's ``value`` on every process (picklable objects)."""
    if world().size == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_to_main(value: Any) -> list[Any] | None:
    """Every process's ``value`` as a list ordered by rank on rank 0; None elsewhere."""
    here = world()
    if here.size == 1:
        return [value]
    out: list[Any] | None = [None] * here.size if here.is_main else None
    dist.gather_object(value, out, dst=0)
    return out
