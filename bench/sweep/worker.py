"""Running one cell where a worker is: a scratch store in, the run's records and artifacts out.

``run_cell(task)`` opens a scratch store in a temporary folder (in memory, ``/dev/shm``, when it has
room: the scratch store's writes and fsyncs would otherwise cost a tenth of a second per cell),
puts the artifacts the driver sent
(``task.artifacts``, e.g. the shared class prior), re-resolves the cell's ``RunConfig`` and checks
that its configuration hash is the driver's (a worker whose bench or plugins differ would store a
different experiment), then runs ``bench.runs.execute.execute`` into the scratch store. It returns the
scratch store's run records with their test scores, and the artifacts the run produced (found
through the run's artifact provenance), for the driver to write into the real store: the worker
needs no access to the driver's filesystem. The trackers of a cell that asks for them
(``RunConfig.log``) write beside the driver's store (``task.tracking_store``, made their
``bench.runs.tracking.tracking_home``), not beside the scratch store, which is removed: the files
of a cell are where ``bench run --log`` puts them for that run (on a Ray worker node, at that path
on the node).

A cell never raises: an error after the run was recorded (NaN loss, CUDA out of memory, ...) is in
the returned failed record; an error before (a missing data file, a hash mismatch) is
``CellResult.error``, which the driver records as a failed run.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from bench.plugins.method import Method, TrainState
from bench.plugins.registry import discover
from bench.runs.config import RunConfig, resolve_config
from bench.runs.execute import RunFailed, execute
from bench.runs.tracking import tracking_home
from bench.store import Store
from bench.sweep.deps import SharedArtifact, provenance_keys

Reporter = Callable[[float, str], None]
PLUGIN_ENV = "BENCH_PLUGIN_PATH"
FORWARDED_ENV = (PLUGIN_ENV, "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME")
REPORT_INTERVAL_S = 0.5
MEMORY_SCRATCH = Path("/dev/shm")
MEMORY_SCRATCH_MIN_FREE = 2**30


@dataclass
class CellTask:
    """What a worker needs to run one cell. ``scratch``: the folder of the scratch store (None: a
    new temporary folder); the worker creates and removes it, whoever set it removes it when the
    worker was killed. ``tracking_store``: the driver's store (an absolute path), beside which the
    cell's trackers write (None: beside the scratch store)."""

    index: int
    run: RunConfig
    config_hash: str
    artifacts: list[SharedArtifact] = field(default_factory=list)
    threads: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    cuda_devices: str | None = None
    scratch: str | None = None
    tracking_store: str | None = None


@dataclass
class CellResult:
    """What a worker sends back: run records (``RunRecord.to_dict()``), their compressed test
    scores by run id, the artifacts the run produced, the reason when no record exists, seconds."""

    index: int
    records: list[dict[str, Any]] = field(default_factory=list)
    scores: dict[str, bytes] = field(default_factory=dict)
    artifacts: list[SharedArtifact] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


def forwarded_env() -> dict[str, str]:
    """The driver's environment variables a worker must share: the plugin path and where MLflow
    tracks (``MLFLOW_TRACKING_URI``, ``MLFLOW_EXPERIMENT_NAME``)."""
    return {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}


def _apply_env(task: CellTask) -> None:
    """Take the driver's forwarded environment (rediscovering plugins when the plugin path
    differs), devices and threads."""
    plugins_changed = os.environ.get(PLUGIN_ENV) != task.env.get(PLUGIN_ENV)
    for name in FORWARDED_ENV:
        if name in task.env:
            os.environ[name] = task.env[name]
        else:
            os.environ.pop(name, None)
    if plugins_changed:
        discover(force=True)
    if task.cuda_devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = task.cuda_devices
    if task.threads:
        torch.set_num_threads(task.threads)


def observe_progress(method: Method, report: Reporter, interval: float = REPORT_INTERVAL_S) -> None:
    """Make ``method.on_step_end`` also report (fraction of the training steps done, "epoch e/E"),
    at most every ``interval`` seconds and at the last step."""
    original = method.on_step_end
    last = [0.0]

    def on_step_end(state: TrainState) -> None:
        original(state)
        total = max(1, (state.num_epochs or 1) * (state.steps_per_epoch or 1))
        done = state.step + 1
        now = time.monotonic()
        if now - last[0] >= interval or done >= total:
            last[0] = now
            report(min(1.0, done / total), f"epoch {state.epoch}/{state.num_epochs}")

    method.on_step_end = on_step_end  # type: ignore[method-assign]


def scratch_root() -> str | None:
    """``/dev/shm`` when it exists with at least 1 GiB free, else None (the system temporary folder)."""
    try:
        stats = os.statvfs(MEMORY_SCRATCH)
    except (OSError, AttributeError):
        return None
    return str(MEMORY_SCRATCH) if stats.f_bavail * stats.f_frsize >= MEMORY_SCRATCH_MIN_FREE else None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _collect(scratch: Store, given: list[SharedArtifact], result: CellResult) -> None:
    """Copy the scratch store's records, scores and newly produced artifacts into ``result``."""
    given_keys = {(a.name, a.key) for a in given}
    for record in scratch.runs():
        result.records.append(record.to_dict())
        blob = scratch.scores_blob(record.id)
        if blob is not None:
            result.scores[record.id] = blob
        for name, key in provenance_keys(record.extra).items():
            stored = scratch.get_artifact(name, key)
            if stored is not None and (name, key) not in given_keys:
                result.artifacts.append(SharedArtifact(name, key, stored[0], stored[1]))
                given_keys.add((name, key))


def run_cell(task: CellTask, report: Reporter | None = None) -> CellResult:
    """Run one cell into a scratch store and return what it recorded (see the module docstring)."""
    started = time.perf_counter()
    result = CellResult(task.index)
    folder = Path(task.scratch or tempfile.mkdtemp(prefix="bench-cell-", dir=scratch_root()))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        scratch = Store(folder / "cell.db")
        for artifact in task.artifacts:
            scratch.put_artifact(artifact.name, artifact.key, artifact.payload, artifact.meta)
        try:
            _apply_env(task)
            if report is not None:
                report(0.0, "setup")
            resolved = resolve_config(task.run)
            if resolved.config_hash != task.config_hash:
                raise RuntimeError(f"this worker resolves the cell to config hash {resolved.config_hash[:12]}, the "
                                   f"driver to {task.config_hash[:12]}: its bench or plugins differ from the driver's")
            if report is not None:
                observe_progress(resolved.method, report)
            with tracking_home(task.tracking_store):
                execute(resolved, scratch, progress=False)
        except RunFailed:
            pass  # the failed record holds the reason
        except Exception as exc:  # noqa: BLE001 - a failing cell is recorded, the sweep goes on
            result.error = _one_line(exc)
        _collect(scratch, task.artifacts, result)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result.seconds = time.perf_counter() - started
    return result
