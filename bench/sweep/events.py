"""What executors share: the ``Executor`` protocol, the events they report, their error.

An executor has ``slots`` (cells it runs at once), ``submit(task)``, ``poll(timeout)`` (the events
since the last poll: ``Progress`` and ``Finished``), ``running()`` and ``close()`` (stops what is
still running). Results travel back to the driver, which alone writes the store.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bench.core.errors import InputError
from bench.sweep.worker import CellResult, CellTask


class ExecutorError(InputError):
    """An executor that cannot be used as asked (unknown name, Ray missing, bad resources)."""


@dataclass
class Progress:
    """A running cell's training progress: fraction of its steps done and its phase ("epoch 2/5")."""

    index: int
    fraction: float
    phase: str


@dataclass
class Finished:
    """A cell came back with its result."""

    index: int
    result: CellResult


class Executor(Protocol):
    slots: int

    def submit(self, task: CellTask) -> None: ...

    def poll(self, timeout: float) -> list[Progress | Finished]: ...

    def running(self) -> int: ...

    def close(self) -> None: ...
