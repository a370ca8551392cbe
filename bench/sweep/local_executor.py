"""The ``local`` executor: every cell in its own process on this machine.

Cells are forked from a process that has already imported torch, the engine and the plugins
(``bench.sweep.preload``), so a cell costs its run, not its imports: on Linux the driver itself
(``fork``; the driver never starts threads or opens CUDA), or, when cells use CUDA, a fork server
that never touched CUDA (``forkserver``, as a process that initialised CUDA cannot fork children
that use it); ``spawn`` elsewhere. Each process talks to the driver over its own pipe (no lock
shared between cells, so one killed by the out-of-memory killer cannot wedge the others), ignores
Ctrl-C (the driver stops it) and exits when its parent goes away. A process that dies without a
result is a failed cell with the signal or exit code as its reason. The executor makes each cell's
scratch folder path; the cell creates and removes the folder, the executor removes it when the cell
was killed, and a cell whose driver died removes its own.
"""
from __future__ import annotations

import importlib
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from multiprocessing.connection import Connection, wait
from pathlib import Path

from bench.sweep.events import ExecutorError, Finished, Progress
from bench.sweep.worker import CellResult, CellTask, run_cell, scratch_root

PARENT_CHECK_S = 1.0


def usable_cpus() -> int:
    """CPUs this process may use (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def exit_reason(exitcode: int | None) -> str:
    """Why a cell process ended without sending its result."""
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.valid_signals() else str(-exitcode)
        hint = " (the out-of-memory killer sends it when memory runs out)" if -exitcode == signal.SIGKILL else ""
        return f"worker process killed by {name}{hint}"
    return f"worker process exited with code {exitcode} before sending its result"


def _abandon(task: CellTask) -> None:
    """Exit a cell process whose driver is gone, removing its scratch folder (nobody else will)."""
    if task.scratch is not None:
        shutil.rmtree(task.scratch, ignore_errors=True)
    os._exit(3)


def _watch_parent(parent: int, task: CellTask) -> None:
    while True:
        time.sleep(PARENT_CHECK_S)
        if os.getppid() != parent:
            _abandon(task)


def cell_process_main(task: CellTask, conn: Connection) -> None:
    """Entry point of a local cell process: run the cell, send progress and the result on ``conn``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(os.getppid(), task), daemon=True).start()
    try:
        result = run_cell(task, lambda fraction, phase: conn.send(("progress", fraction, phase)))
        conn.send(("result", result))
    except (BrokenPipeError, EOFError):
        _abandon(task)
    finally:
        conn.close()


def start_method(uses_cuda: bool) -> str:
    """``fork`` on Linux for CPU cells, ``forkserver`` for CUDA cells, else ``spawn``."""
    methods = multiprocessing.get_all_start_methods()
    if not sys.platform.startswith("linux"):
        return "spawn"
    return "forkserver" if uses_cuda and "forkserver" in methods else "fork"


def _context(method: str) -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["bench.sweep.preload"])
    elif method == "fork":
        importlib.import_module("bench.sweep.preload")
    return context


class LocalExecutor:
    """Cells as processes on this machine, ``workers`` at once (default: usable CPUs // cpus per
    cell); with ``gpus_per_cell`` > 0, each slot owns that many GPUs (CUDA_VISIBLE_DEVICES).
    ``method``: the multiprocessing start method (default ``start_method(uses_cuda)``)."""

    def __init__(self, workers: int | None = None, cpus_per_cell: float = 1.0, gpus_per_cell: float = 0.0, *,
                 uses_cuda: bool = False, method: str | None = None):
        if workers is not None and workers < 1:
            raise ExecutorError(f"--workers must be >= 1, got {workers}")
        self.threads = max(1, int(cpus_per_cell))
        self.slots = workers or max(1, int(usable_cpus() // cpus_per_cell))
        self._gpu_sets: list[str | None] = [None] * self.slots
        if gpus_per_cell > 0:
            self._gpu_sets = _gpu_sets(int(gpus_per_cell), self.slots)
            self.slots = len(self._gpu_sets)
        self.method = method or start_method(uses_cuda or gpus_per_cell > 0)
        self._context: multiprocessing.context.BaseContext | None = None
        self._live: dict[int, tuple[multiprocessing.process.BaseProcess, Connection, str | None]] = {}
        self._scratch: dict[int, str] = {}

    def submit(self, task: CellTask) -> None:
        busy = {gpus for _, _, gpus in self._live.values()}
        task.cuda_devices = next((g for g in self._gpu_sets if g is None or g not in busy), None)
        task.threads = task.threads or self.threads
        folder = Path(scratch_root() or tempfile.gettempdir()) / f"bench-cell-{uuid.uuid4().hex[:12]}"
        task.scratch = self._scratch[task.index] = str(folder)
        if self._context is None:
            self._context = _context(self.method)
        receiver, sender = self._context.Pipe(duplex=False)
        process = self._context.Process(target=cell_process_main, args=(task, sender), daemon=True,
                                        name=f"bench-cell-{task.index}")
        process.start()
        sender.close()
        self._live[task.index] = (process, receiver, task.cuda_devices)

    def running(self) -> int:
        return len(self._live)

    def poll(self, timeout: float) -> list[Progress | Finished]:
        by_conn = {conn: index for index, (_, conn, _) in self._live.items()}
        events: list[Progress | Finished] = []
        for conn in wait(list(by_conn), timeout):
            index = by_conn[conn]
            process = self._live[index][0]
            try:
                message = conn.recv()
            except (EOFError, OSError):
                process.join()
                message = ("result", CellResult(index, error=exit_reason(process.exitcode)))
            if message[0] == "progress":
                events.append(Progress(index, message[1], message[2]))
                continue
            events.append(Finished(index, message[1]))
            conn.close()
            process.join()
            self._forget(index)
        return events

    def _forget(self, index: int) -> None:
        """Drop a finished cell's process and remove its scratch folder (even if it was killed)."""
        del self._live[index]
        shutil.rmtree(self._scratch.pop(index), ignore_errors=True)

    def close(self) -> None:
        for process, conn, _ in self._live.values():
            process.terminate()
            conn.close()
        for index, (process, _, _) in list(self._live.items()):
            process.join()
            self._forget(index)


def _gpu_sets(per_cell: int, slots: int) -> list[str | None]:
    import torch

    count = torch.cuda.device_count()
    if count < per_cell:
        raise ExecutorError(f"cells ask for {per_cell} GPU(s) each; this machine has {count}")
    return [",".join(str(i * per_cell + j) for j in range(per_cell)) for i in range(min(slots, count // per_cell))]
