"""Live training curves in the trackers people use (``bench run --log tensorboard --log mlflow``).

A ``Tracker`` receives a run's resolved configuration (``log_config``), its metrics per step and per
epoch (``log_metrics``), its final record (``log_final``: test metrics and selection) and
``close(status)`` ("done", "failed" or "interrupted"); ``describe()`` says where it wrote. The
runner (``bench.runs.execute``) opens the trackers a run asks for (``RunConfig.log``) once its
attempt is claimed and makes them current around the mode (``tracked``); the trainers log to
``current_tracker()``, a ``Tracker`` that does nothing when no tracker was asked for, so a run
without ``--log`` is unchanged. Which trackers run says how a run is observed, not what it computes:
``RunConfig.log`` is not part of the configuration hash.

Trackers write beside the store the run is recorded in, unless ``tracking_home(store_path)`` names
another: a sweep worker records into a scratch store that is removed once the driver has merged its
records into the main store, so it makes the main store the trackers' home and every cell's files
land where ``bench run --log`` puts them for that run.

``log_metrics(values, step, scope, prefix)``: ``scope`` "step" (``step`` counts batches from 0) or
"epoch" (``step`` is the epoch, from 1); ``prefix`` ("" or ending in "/") keeps apart the curves of
trainings of one run whose counters restart: a feature head's (lr, weight decay) candidates
(``candidate<i>/`` when the grid has several) and the temporary model of a class prior (``prior/``).

Backends, imported only when asked (optional extra ``bench[tracking]``): ``tensorboard``
(``bench.runs.tensorboard_tracker``: event files in ``<store folder>/runs/<run id>/tensorboard``) and
``mlflow`` (``bench.runs.mlflow_tracker``: a local MLflow file store by default). A backend whose
package is missing is refused by ``check_trackers`` before anything runs.
"""
from __future__ import annotations

import importlib
import importlib.util
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from numbers import Real
from pathlib import Path
from typing import Any

from bench.core.errors import InputError

# name -> (the package it needs, as imported; its backend module, which defines ``open_tracker(target)``)
BACKENDS = {
    "tensorboard": ("tensorboard", "bench.runs.tensorboard_tracker"),
    "mlflow": ("mlflow", "bench.runs.mlflow_tracker"),
}


@dataclass(frozen=True)
class TrackingTarget:
    """What a backend needs to know about the run it tracks; ``store_path``: the store whose folder
    holds the tracking files (see ``tracking_home``)."""

    run_id: str
    store_path: Path
    config: dict[str, Any]
    config_hash: str
    method: str
    dataset: str


class Tracker:
    """The tracking protocol; this base class does nothing (the tracker of a run without ``--log``)."""

    name = "none"

    def log_config(self, config: dict[str, Any]) -> None:
        """The run's resolved configuration (``ResolvedRun.config``)."""

    def log_metrics(self, values: dict[str, float], step: int, scope: str = "step", prefix: str = "") -> None:
        """Scalars of one step or one epoch (see the module docstring)."""

    def log_final(self, metrics: dict[str, Any], selection: dict[str, Any]) -> None:
        """The run's test metrics (scalars; other values are skipped) and its model selection."""

    def close(self, status: str) -> None:
        """Flush and end the tracking; ``status``: "done", "failed" or "interrupted"."""

    def describe(self) -> dict[str, Any]:
        """Where the tracker wrote (recorded in the run's ``extra["trackers"]``)."""
        return {}


class Trackers(Tracker):
    """Several trackers as one."""

    name = "several"

    def __init__(self, trackers: list[Tracker]):
        self.trackers = trackers

    def log_config(self, config: dict[str, Any]) -> None:
        for tracker in self.trackers:
            tracker.log_config(config)

    def log_metrics(self, values: dict[str, float], step: int, scope: str = "step", prefix: str = "") -> None:
        for tracker in self.trackers:
            tracker.log_metrics(values, step, scope, prefix)

    def log_final(self, metrics: dict[str, Any], selection: dict[str, Any]) -> None:
        for tracker in self.trackers:
            tracker.log_final(metrics, selection)

    def close(self, status: str) -> None:
        """Close every tracker; a failure to close one is a warning (the run's record stands)."""
        for tracker in self.trackers:
            try:
                tracker.close(status)
            except Exception as exc:  # noqa: BLE001 - a tracker must not turn a recorded run into a failure
                warnings.warn(f"--log {tracker.name}: closing failed: {type(exc).__name__}: {exc}", stacklevel=2)

    def describe(self) -> dict[str, Any]:
        return {tracker.name: tracker.describe() for tracker in self.trackers}


NO_TRACKER = Tracker()
_CURRENT: ContextVar[Tracker] = ContextVar("bench_tracker", default=NO_TRACKER)
_HOME: ContextVar[Path | None] = ContextVar("bench_tracking_home", default=None)


@contextmanager
def tracking_home(store_path: str | Path | None) -> Iterator[None]:
    """For the duration, trackers write beside the store ``store_path`` (resolved now) instead of the
    store the run is recorded in; None changes nothing."""
    if store_path is None:
        yield
        return
    token = _HOME.set(Path(store_path).resolve())
    try:
        yield
    finally:
        _HOME.reset(token)


def at_home(target: TrackingTarget) -> TrackingTarget:
    """``target`` with ``store_path`` the current ``tracking_home`` (unchanged outside one)."""
    home = _HOME.get()
    return target if home is None else replace(target, store_path=home)


def current_tracker() -> Tracker:
    """The tracker of the run being trained (``NO_TRACKER`` outside ``tracked``)."""
    return _CURRENT.get()


def check_trackers(names: tuple[str, ...] | list[str]) -> None:
    """``InputError`` for an unknown tracker name or a tracker whose package is not installed (checked
    without importing it)."""
    for name in names:
        if name not in BACKENDS:
            raise InputError(f"--log must be one of {', '.join(BACKENDS)}; got '{name}'")
        package = BACKENDS[name][0]
        if importlib.util.find_spec(package) is None:
            raise InputError(f"--log {name} needs the {package} package: pip install 'bench[tracking]'")


def is_scalar(value: Any) -> bool:
    """A real number (not a bool); NaN counts (a split without a scorable class)."""
    return isinstance(value, Real) and not isinstance(value, bool)


def run_folder(store_path: str | Path, run_id: str) -> Path:
    """``<store folder>/runs/<run id>``: the files a run writes beside its store."""
    return Path(store_path).resolve().parent / "runs" / run_id


def open_trackers(names: tuple[str, ...] | list[str], target: TrackingTarget) -> Trackers:
    """Open the named backends (each once, in order) for ``target`` (at its ``tracking_home``)."""
    check_trackers(names)
    target = at_home(target)
    opened: list[Tracker] = []
    try:
        for name in dict.fromkeys(names):
            opened.append(importlib.import_module(BACKENDS[name][1]).open_tracker(target))
    except BaseException:
        Trackers(opened).close("failed")
        raise
    return Trackers(opened)


@contextmanager
def tracked(names: tuple[str, ...] | list[str], target: TrackingTarget) -> Iterator[Tracker]:
    """Open the trackers, log the configuration and make them current for the duration; close them
    with "done", "interrupted" (Ctrl-C) or "failed" (any other exception)."""
    if not names:
        yield NO_TRACKER
        return
    trackers = open_trackers(names, target)
    token = _CURRENT.set(trackers)
    status = "failed"
    try:
        trackers.log_config(target.config)
        yield trackers
        status = "done"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        _CURRENT.reset(token)
        trackers.close(status)
