"""``--log mlflow``: the run in a local MLflow store (or the one ``MLFLOW_TRACKING_URI`` names).

The tracking URI is ``MLFLOW_TRACKING_URI`` when set, else the file store ``<store folder>/mlruns``
(a ``file:`` URI), in the experiment ``MLFLOW_EXPERIMENT_NAME`` (default "bench"). MLflow 3 refuses
its file store unless ``MLFLOW_ALLOW_FILE_STORE`` is true; it is set while the client opens a
``file:`` store, so the default works offline without a database. One MLflow run per bench run
(named after its id, tagged ``bench.run_id``, ``bench.config_hash``, ``bench.method``,
``bench.dataset``) holds:

- params: the resolved configuration flattened to dotted keys (``recipe.lr``,
  ``method.params.gamma``; lists as JSON), and the selection's scalars as ``selection.<key>``; the
  whole configuration and selection also as the artifacts ``config.json`` and ``selection.json``;
- metrics: the per-epoch scalars (``loss``, ``lr``, ``val_map_c``, ...; with the tracker's prefix,
  e.g. ``candidate1/loss``) at step = epoch, and the final test metrics as ``final/<name>``.
  Per-step scalars go to TensorBoard only.

Uses ``mlflow.tracking.MlflowClient`` (``mlflow-skinny`` suffices), not the fluent API's global
active run.
"""
from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.runs.tracking import Tracker, TrackingTarget, is_scalar

EXPERIMENT = "bench"
BATCH = 100  # MLflow's limit of params per log_batch call
STATUS = {"done": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
_KEY_UNSAFE = re.compile(r"[^\w.\-/ ]")


def tracking_uri(store_path: str | Path) -> str:
    """``MLFLOW_TRACKING_URI``, else the file store ``<store folder>/mlruns``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or (Path(store_path).resolve().parent / "mlruns").as_uri()


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested dicts to ``{"a.b.c": str(leaf)}`` (lists and other non-dict leaves as JSON; keys made
    MLflow-safe: characters other than letters, digits, ``_ - . / `` and space become ``_``)."""
    if isinstance(value, dict) and value:
        flat: dict[str, str] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}{_KEY_UNSAFE.sub('_', str(key))}."))
        return flat
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return {prefix[:-1]: text}


@contextmanager
def _file_store_allowed(uri: str) -> Iterator[None]:
    """Set ``MLFLOW_ALLOW_FILE_STORE=true`` while a ``file:`` store opens (MLflow caches the store)."""
    if not uri.startswith("file:") or "MLFLOW_ALLOW_FILE_STORE" in os.environ:
        yield
        return
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)


def client_for(uri: str) -> Any:
    """An ``MlflowClient`` on ``uri`` (a ``file:`` store allowed)."""
    from mlflow.tracking import MlflowClient

    with _file_store_allowed(uri):
        return MlflowClient(tracking_uri=uri)


class MlflowTracker(Tracker):
    """One MLflow run of ``client``."""

    name = "mlflow"

    def __init__(self, client: Any, run_id: str, uri: str, experiment: str):
        self.client, self.run_id, self.uri, self.experiment = client, run_id, uri, experiment

    def _params(self, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(key, value) for key, value in params.items()]
        for start in range(0, len(items), BATCH):
            self.client.log_batch(self.run_id, params=items[start:start + BATCH])

    def _metrics(self, values: dict[str, Any], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(key, float(value), now, step) for key, value in values.items() if is_scalar(value)]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def log_config(self, config: dict[str, Any]) -> None:
        self._params(flatten(config))
        self.client.log_dict(self.run_id, config, "config.json")

    def log_metrics(self, values: dict[str, float], step: int, scope: str = "step", prefix: str = "") -> None:
        if scope == "epoch":
            self._metrics({f"{prefix}{name}": value for name, value in values.items()}, step)

    def log_final(self, metrics: dict[str, Any], selection: dict[str, Any]) -> None:
        self._metrics({f"final/{name}": value for name, value in metrics.items()}, 0)
        scalars = {key: value for key, value in selection.items() if isinstance(value, (str, int, float, bool))}
        self._params(flatten(scalars, "selection."))
        self.client.log_dict(self.run_id, selection, "selection.json")

    def close(self, status: str) -> None:
        self.client.set_terminated(self.run_id, STATUS.get(status, "FAILED"))

    def describe(self) -> dict[str, Any]:
        return {"tracking_uri": self.uri, "experiment": self.experiment, "run_id": self.run_id}


def _experiment_id(client: Any, name: str) -> str:
    """The id of experiment ``name``, created when missing (another process may create it first)."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name)
    except MlflowException:
        return client.get_experiment_by_name(name).experiment_id


def open_tracker(target: TrackingTarget) -> MlflowTracker:
    """A new MLflow run for ``target`` in the experiment ``MLFLOW_EXPERIMENT_NAME`` (default "bench")."""
    uri = tracking_uri(target.store_path)
    client = client_for(uri)
    experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT
    tags = {"bench.run_id": target.run_id, "bench.config_hash": target.config_hash, "bench.method": target.method,
            "bench.dataset": target.dataset}
    run = client.create_run(_experiment_id(client, experiment), run_name=target.run_id[:12], tags=tags)
    return MlflowTracker(client, run.info.run_id, uri, experiment)
