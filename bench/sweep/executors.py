"""Executors: where cells run. ``local`` (default; ``bench.sweep.local_executor``): every cell in its
own process on this machine; ``ray`` (``bench.sweep.ray_executor``, the optional extra
``bench[ray]``): tasks on a Ray cluster. Their protocol and events: ``bench.sweep.events``.
"""
from __future__ import annotations

from bench.sweep.events import Executor, ExecutorError, Finished, Progress
from bench.sweep.local_executor import LocalExecutor, exit_reason, start_method, usable_cpus

__all__ = ["Executor", "ExecutorError", "Finished", "LocalExecutor", "Progress", "exit_reason", "make_executor",
           "start_method", "usable_cpus"]


def make_executor(name: str, *, workers: int | None = None, address: str | None = None,
                  cpus_per_cell: float = 1.0, gpus_per_cell: float = 0.0, uses_cuda: bool = False) -> Executor:
    """The executor called ``name`` ("local" or "ray"); ``uses_cuda``: some cell runs on CUDA."""
    if name == "local":
        if address is not None:
            raise ExecutorError("--address is for the ray executor")
        return LocalExecutor(workers, cpus_per_cell, gpus_per_cell, uses_cuda=uses_cuda)
    if name == "ray":
        from bench.sweep.ray_executor import RayExecutor

        return RayExecutor(address, workers=workers, cpus_per_cell=cpus_per_cell, gpus_per_cell=gpus_per_cell)
    raise ExecutorError(f"unknown executor '{name}'; known: local, ray")
