"""Per-epoch checkpoints of a training run, written atomically, read back with ``weights_only``.

A run's checkpoints live in ``<root>/<config hash>/`` where ``root`` is ``$BENCH_CHECKPOINTS`` or the
``checkpoints`` folder beside the store: ``last.pt`` (everything needed to continue after the last
finished epoch) and ``best.pt`` (the weights of the epoch selected so far). Both are keyed by the
configuration hash, so ``--resume`` continues the same configuration whichever attempt wrote them.

Writes go to a temporary file in the same folder, are flushed to disk (``fsync``) and renamed over
the target (``os.replace``), so a process killed at any moment leaves either the previous or the new
complete file. A Ctrl-C during a write is held until the file is complete (``interrupts_deferred``),
then raised as the usual ``KeyboardInterrupt``: torch's writer would otherwise fail half-way with a
``RuntimeError`` from its C++ side. A caller that updates both writes ``best.pt`` before
``last.pt``: a ``last.pt`` of epoch e then never points past a ``best.pt`` missing epoch e's
improvement.
"""
from __future__ import annotations

import os
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from bench.core.errors import RunError

FORMAT = 1
LAST, BEST = "last.pt", "best.pt"


class CheckpointError(RunError):
    """A checkpoint that cannot be read or belongs to another configuration."""


def checkpoint_root(store_path: str | Path) -> Path:
    """``$BENCH_CHECKPOINTS`` or ``<store folder>/checkpoints``."""
    env = os.environ.get("BENCH_CHECKPOINTS")
    return Path(env) if env else Path(store_path).resolve().parent / "checkpoints"


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT for the duration (main thread only; elsewhere a no-op), then raise the
    ``KeyboardInterrupt`` it would have raised."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def save_atomic(payload: dict[str, Any], path: Path) -> None:
    """``torch.save(payload)`` to ``path`` so that readers only ever see a complete file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with interrupts_deferred():
            with temporary.open("wb") as handle:
                torch.save(payload, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    descriptor = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class RunCheckpoints:
    """The checkpoint folder of one configuration."""

    def __init__(self, root: str | Path, config_hash: str):
        self.folder = Path(root) / config_hash
        self.config_hash = config_hash

    def save(self, name: str, payload: dict[str, Any]) -> None:
        """Write ``payload`` (tensors, dicts, lists, numbers, strings) as ``name`` atomically."""
        save_atomic({"format": FORMAT, "config_hash": self.config_hash, **payload}, self.folder / name)

    def load(self, name: str) -> dict[str, Any] | None:
        """The payload saved as ``name`` (on the CPU), or None when there is none."""
        path = self.folder / name
        if not path.is_file():
            return None
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any reader failure means an unusable file
            raise CheckpointError(f"checkpoint {path}: cannot be read ({type(exc).__name__}: {exc})") from None
        if payload.get("format") != FORMAT or payload.get("config_hash") != self.config_hash:
            raise CheckpointError(f"checkpoint {path}: written for another configuration or format")
        return payload

    def clear(self) -> None:
        """Remove this configuration's checkpoints (after the run is recorded as done)."""
        shutil.rmtree(self.folder, ignore_errors=True)
