"""The ``ray`` executor: every cell a Ray task with its own CPU/GPU resources (``bench[ray]``).

``RayExecutor(address)`` joins the cluster at ``address`` ("auto": the one started on this machine
with ``ray start --head``; "HOST:PORT"; None: Ray's default, which starts a local instance when none
runs), unless this process is already connected (``ray.init`` called by the caller). A task carries
its cell's ``CellTask`` (with the shared artifacts) and returns the ``CellResult``, so worker nodes
need bench and the plugins installed but no access to the driver's files or store. Progress goes to
a small actor the driver polls. Tasks are not retried: a task whose worker dies (out of memory,
lost node) is a failed cell with Ray's reason.
"""
from __future__ import annotations

import time
from typing import Any

from bench.sweep.events import ExecutorError, Finished, Progress
from bench.sweep.worker import CellResult, CellTask, run_cell

BOARD_POLL_S = 0.5


class ProgressBoard:
    """Ray actor: the latest (fraction, phase) reported by each running cell."""

    def __init__(self) -> None:
        self.latest: dict[int, tuple[float, str]] = {}

    def report(self, index: int, fraction: float, phase: str) -> None:
        self.latest[index] = (fraction, phase)

    def take(self) -> dict[int, tuple[float, str]]:
        latest, self.latest = self.latest, {}
        return latest


def ray_cell(task: CellTask, board: Any) -> CellResult:
    """The body of a cell's Ray task: ``run_cell`` reporting its progress to ``board``."""
    return run_cell(task, lambda fraction, phase: board.report.remote(task.index, fraction, phase))


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ExecutorError("the ray executor needs Ray: pip install 'bench[ray]'") from None
    return ray


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


class RayExecutor:
    """Cells as Ray tasks (see the module docstring); ``workers`` caps the cells in flight
    (default: what the cluster's CPUs and GPUs hold at the per-cell resources)."""

    def __init__(self, address: str | None = None, *, workers: int | None = None, cpus_per_cell: float = 1.0,
                 gpus_per_cell: float = 0.0):
        ray = self._ray = _import_ray()
        self._owns = not ray.is_initialized()
        if self._owns:
            try:
                ray.init(address=address, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ExecutorError(f"cannot join the Ray cluster at {address or 'the default address'}: "
                                    f"{_first_line(exc)}") from None
        self.slots = workers or self._cluster_slots(cpus_per_cell, gpus_per_cell)
        self._task = ray.remote(max_retries=0)(ray_cell).options(num_cpus=cpus_per_cell, num_gpus=gpus_per_cell)
        self._threads = max(1, int(cpus_per_cell))
        self._board = ray.remote(num_cpus=0)(ProgressBoard).remote()
        self._refs: dict[Any, int] = {}
        self._board_polled = 0.0

    def _cluster_slots(self, cpus: float, gpus: float) -> int:
        resources = self._ray.cluster_resources()
        slots = int(resources.get("CPU", 0) // cpus)
        if gpus > 0:
            slots = min(slots, int(resources.get("GPU", 0) // gpus))
        if slots < 1:
            raise ExecutorError(f"the Ray cluster ({resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs) "
                                f"cannot hold a cell asking for {cpus:g} CPUs and {gpus:g} GPUs")
        return slots

    def submit(self, task: CellTask) -> None:
        task.threads = task.threads or self._threads
        self._refs[self._task.remote(task, self._board)] = task.index

    def running(self) -> int:
        return len(self._refs)

    def poll(self, timeout: float) -> list[Progress | Finished]:
        ray = self._ray
        events: list[Progress | Finished] = []
        if self._refs:
            ready, _ = ray.wait(list(self._refs), num_returns=1, timeout=timeout)
            if ready:
                ready, _ = ray.wait(list(self._refs), num_returns=len(self._refs), timeout=0)
            for ref in ready:
                index = self._refs.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    result = CellResult(index, error=_first_line(exc))
                events.append(Finished(index, result))
        now = time.monotonic()
        if now - self._board_polled >= BOARD_POLL_S:
            self._board_polled = now
            running = set(self._refs.values())
            latest = ray.get(self._board.take.remote())
            events.extend(Progress(i, f, p) for i, (f, p) in latest.items() if i in running)
        return events

    def close(self) -> None:
        ray = self._ray
        for ref in self._refs:
            ray.cancel(ref, force=True)
        self._refs.clear()
        ray.kill(self._board)
        if self._owns:
            ray.shutdown()
