"""Execution: one resolved configuration run into one store record.

``execute`` skips a configuration whose latest attempt is done (unless ``force``), loads the data,
builds the manifest and checks the artifact files the user gave (bad input raises before anything
is stored), then claims the configuration in the store (``Store.claim_run``, atomic): when another
live process trains the same configuration, it waits for that attempt to end and then skips (or,
if it failed, claims again); ``force`` records a new attempt regardless. The claimed attempt keeps
its heartbeat fresh from a thread while the run's mode (``bench.runs.modes``) trains and evaluates
it into a ``RunResult``, and is recorded as done, or as failed with its reason when anything stops
it (a Ctrl-C is recorded as "interrupted"). Around the mode, the runner tells the method that a run
starts (``Method.start_run``: the same instance may train several runs of a sweep) and merges what
the method says about it (``run_diagnostics``, ``run_notes``) into the record's ``extra``, emitting
each new note once as a ``RunNoteWarning``: no mode needs to know about them. The trackers the run
asks for (``RunConfig.log``, ``bench.runs.tracking``) are current around the mode; they receive the
final record, and ``extra["trackers"]`` records where each wrote.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from bench.core.errors import RunError, RunNoteWarning
from bench.core.provenance import environment
from bench.runs.artifacts import check_artifact_files
from bench.runs.config import ResolvedRun, RunConfig, resolve_config
from bench.runs.modes import get_mode
from bench.runs.resolve import prepare
from bench.runs.result import RunResult
from bench.runs.tracking import Tracker, TrackingTarget, tracked
from bench.store import RunRecord, Store, StoreError
from bench.store.heartbeat import HEARTBEAT_SECONDS, Heartbeat

if TYPE_CHECKING:
    from bench.plugins.method import Method

WAIT_POLL_S = 0.5


class RunFailed(RunError):
    """A recorded run stopped by an error; the record holds the same reason."""

    def __init__(self, run_id: str, reason: str):
        super().__init__(f"run {run_id[:12]} failed: {reason}")
        self.run_id = run_id
        self.reason = reason


@dataclass
class RunOutcome:
    """``status`` is "done" (a new attempt) or "skipped" (``record`` is the earlier done attempt)."""

    status: str
    record: RunRecord


def _record_failure(store: Store, run_id: str, reason: str) -> None:
    try:
        store.fail_run(run_id, reason)
    except StoreError:
        pass  # the record keeps "running" and is reported stale once its heartbeat stops


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _wait_for(store: Store, run_id: str, poll_s: float) -> None:
    """Block until the attempt ``run_id`` is no longer running (done, failed, or stale)."""
    while store.get_run(run_id).status == "running":
        time.sleep(poll_s)


def _add_method_report(result: RunResult, method: Method) -> None:
    """Merge the method's diagnostics and notes about the run into ``result.extra`` and emit each new
    note once as a ``RunNoteWarning``."""
    for note in result.add_method_report(method.run_diagnostics(), method.run_notes()):
        warnings.warn(note, RunNoteWarning, stacklevel=3)


def _add_tracking(result: RunResult, tracker: Tracker) -> None:
    """Send the final record to the run's trackers and record where they wrote."""
    metrics = {k: v for k, v in result.evaluation.to_dict().items() if k != "per_class_ap"}
    tracker.log_final(metrics, result.selection)
    where = tracker.describe()
    if where:
        result.extra["trackers"] = where


def execute(
    run: RunConfig | ResolvedRun,
    store: Store,
    *,
    force: bool = False,
    progress: bool | None = None,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
    on_wait: Callable[[RunRecord], None] | None = None,
    wait_poll_s: float = WAIT_POLL_S,
) -> RunOutcome:
    """Run one configuration into ``store`` (see the module docstring).

    Raises the input errors of resolution, data loading and artifact files before anything is
    stored, ``RunFailed`` for an error after the attempt is recorded, and re-raises
    ``KeyboardInterrupt`` after recording the attempt as failed. ``on_wait(record)`` is called when
    the run waits for another process's attempt of the same configuration.
    """
    started = time.perf_counter()
    resolved = run if isinstance(run, ResolvedRun) else resolve_config(run)
    if not force:
        done = store.latest_done(resolved.config_hash)
        if done is not None:
            return RunOutcome("skipped", done)
    mode = get_mode(resolved.run.mode)
    prepared = prepare(resolved.dataset, resolved.run.split_seed, resolved.run.val_fraction, resolved.run.val_labels)
    check_artifact_files(resolved, prepared)
    options = resolved.run
    attempt = dict(
        config=resolved.config, config_hash=resolved.config_hash, method=resolved.method_selector,
        dataset=resolved.dataset.label, seed=options.seed, split_seed=options.split_seed,
        manifest_sha256=prepared.manifest.sha256, env=environment(options.device),
        extra={"selected_on_test": options.select_on == "test"},
    )
    while True:
        status, claim = store.claim_run(force=force, **attempt)
        if status == "done":
            return RunOutcome("skipped", claim)
        if status == "claimed":
            run_id = claim
            break
        if on_wait is not None:
            on_wait(claim)
        _wait_for(store, claim.id, wait_poll_s)
    try:
        target = TrackingTarget(run_id, store.path, resolved.config, resolved.config_hash, resolved.method_selector,
                                resolved.dataset.label)
        with Heartbeat(store.path, run_id, heartbeat_seconds), tracked(options.log, target) as tracker:
            resolved.method.start_run()
            result = mode.run(resolved, prepared, store, progress)
            _add_method_report(result, resolved.method)
            _add_tracking(result, tracker)
            result.finish(time.perf_counter() - started)
            store.finish_run(run_id, **result.store_fields())
    except KeyboardInterrupt:
        _record_failure(store, run_id, "interrupted")
        raise
    except Exception as exc:
        reason = _one_line(exc)
        _record_failure(store, run_id, reason)
        raise RunFailed(run_id, reason) from exc
    except BaseException as exc:
        _record_failure(store, run_id, _one_line(exc))
        raise
    return RunOutcome("done", store.get_run(run_id))
