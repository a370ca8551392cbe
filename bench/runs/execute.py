"""Runs: a ``RunConfig`` resolved into a fully specified, hashed configuration, executed into one
store record.

``resolve_config`` types every method, dataset and protocol parameter (defaults filled in), adds the
plugins' identities (name, version, source hash), the recipe, the split and the selection policy,
and ``config_hash`` is the sha256 of that dict as canonical JSON (sorted keys, compact, no NaN), so a
changed default or an edited plugin never merges old and new results. The device is not part of
the hash (it is recorded with the run's environment and cost). Modes: ``linear`` (a head on dataset
features, or on cached backbone features of an image dataset: ``bench.training.linear_images``) and
``finetune`` (image backbones end to end: ``bench.training.finetune.mode``); the recipe's part of the
hash is ``bench.training.image_recipe.recipe_config``.

``execute`` skips a configuration whose latest attempt is done (unless ``force``), loads the data
and builds the manifest (bad input raises before anything is stored), records a "running" attempt,
keeps its heartbeat fresh from a thread, trains and evaluates with the runner of its ``mode`` and
records the attempt as done, or as failed with its reason when anything (Ctrl-C included) stops it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import torch

from bench.core.errors import InputError, RunError
import bench
from bench.runs.resolve import ResolvedDataset, method_selector, prepare, resolve_dataset
from bench.runs.artifacts import artifact_config
from bench.core.hashing import json_sha256
from bench.store.heartbeat import HEARTBEAT_SECONDS, Heartbeat
from bench.plugins.method import Method
from bench.metrics import EVALUATORS
from bench.labels.protocols import protocol_identity
from bench.core.provenance import environment
from bench.plugins.registry import plugin_identity
from bench.store import RunRecord, Store, StoreError
from bench.training.finetune.mode import run_finetune
from bench.training.heads import HEADS
from bench.training.image_recipe import recipe_config, run_recipe
from bench.training.linear_images import run_linear_any
from bench.training.trainer import Recipe

SELECT_POLICIES = ("val", "last", "test")
MODE_RUNNERS: dict[str, Callable[..., dict[str, Any]]] = {"linear": run_linear_any, "finetune": run_finetune}


class ConfigError(InputError):
    """A run option out of range or inconsistent with the dataset or method."""


class RunFailed(RunError):
    """A recorded run stopped by an error; the record holds the same reason."""

    def __init__(self, run_id: str, reason: str):
        super().__init__(f"run {run_id[:12]} failed: {reason}")
        self.run_id = run_id
        self.reason = reason


@dataclass
class RunConfig:
    """What a user asks for (``bench run`` options); see ``resolve_config``.

    ``device``, ``workers`` (image loader processes; None: ``default_workers``) and ``resume`` (continue from the
    configuration's last checkpoint, ``--mode finetune``) say how a run computes, not what: they are
    not part of the configuration hash.
    """

    method: str
    dataset: str
    seed: int = 0
    split_seed: int = 0
    val_fraction: float = 0.2
    mode: str = "linear"
    recipe: Recipe = field(default_factory=Recipe)
    select_on: str = "val"
    evaluator: str = "partial"
    device: str = "cpu"
    prior_path: str | None = None
    workers: int | None = None
    resume: bool = False


@dataclass
class ResolvedRun:
    """A run with its method object, resolved dataset, configuration dict and hash."""

    run: RunConfig
    method: Method
    method_selector: str
    dataset: ResolvedDataset
    config: dict[str, Any]
    config_hash: str


@dataclass
class RunOutcome:
    """``status`` is "done" (a new attempt) or "skipped" (``record`` is the earlier done attempt)."""

    status: str
    record: RunRecord


def config_hash(config: dict[str, Any]) -> str:
    """sha256 (hex) of the configuration as canonical JSON (``bench.core.hashing.canonical_json``)."""
    return json_sha256(config)


def _check_options(run: RunConfig) -> None:
    recipe = run.recipe
    checks = [
        (run.select_on in SELECT_POLICIES, f"select_on must be one of {', '.join(SELECT_POLICIES)}; got '{run.select_on}'"),
        (run.evaluator in EVALUATORS, f"evaluator must be one of {', '.join(EVALUATORS)}; got '{run.evaluator}'"),
        (run.mode in MODE_RUNNERS, f"mode '{run.mode}' is not available (modes: {', '.join(MODE_RUNNERS)})"),
        (run.workers is None or run.workers >= 0, f"workers must be >= 0; got {run.workers}"),
        (0.0 <= run.val_fraction < 1.0, f"val_fraction must be in [0, 1); got {run.val_fraction}"),
        (recipe.epochs >= 1, f"epochs must be >= 1; got {recipe.epochs}"),
        (recipe.batch_size >= 1, f"batch_size must be >= 1; got {recipe.batch_size}"),
        (recipe.lr > 0, f"lr must be > 0; got {recipe.lr}"),
        (recipe.weight_decay >= 0, f"weight_decay must be >= 0; got {recipe.weight_decay}"),
        (0.0 < recipe.pct_start < 1.0, f"pct_start must be in (0, 1); got {recipe.pct_start}"),
        (recipe.head in HEADS, f"head must be one of {', '.join(HEADS)}; got '{recipe.head}'"),
        (recipe.hidden >= 1, f"hidden must be >= 1; got {recipe.hidden}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    try:
        device = torch.device(run.device)
    except RuntimeError:
        raise ConfigError(f"device '{run.device}' is not a torch device (cpu, cuda, cuda:1, ...)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device '{run.device}': no CUDA device is available")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"device '{run.device}': only cpu and cuda are supported")


def _protocol_config(dataset: ResolvedDataset) -> dict[str, Any] | None:
    return None if dataset.protocol is None else protocol_identity(dataset.protocol, dataset.protocol_params)


def resolve_config(run: RunConfig) -> ResolvedRun:
    """Type and check every option; build the configuration dict and its hash (no data loaded)."""
    _check_options(run)
    cls, merged, selector = method_selector(run.method)
    method = cls(**merged)
    dataset = resolve_dataset(run.dataset)
    kind = type(dataset.plugin).kind
    if run.mode == "finetune" and kind != "images":
        raise ConfigError(f"mode 'finetune' trains image backbones; dataset '{type(dataset.plugin).name}' has "
                          "features (use --mode linear)")
    if run.select_on == "val" and run.val_fraction == 0:
        raise ConfigError("select_on 'val' needs a validation split: val_fraction > 0 (or select on 'last')")
    run = replace(run, recipe=run_recipe(run.recipe, type(dataset.plugin)))
    recipe = recipe_config(run.recipe, run.mode, kind)
    config = {
        "bench_version": bench.__version__,
        "method": {**plugin_identity(cls), "params": method.params},
        "dataset": {**plugin_identity(type(dataset.plugin)), "params": dict(dataset.plugin.params)},
        "protocol": _protocol_config(dataset),
        "split": {"split_seed": int(run.split_seed), "val_fraction": float(run.val_fraction)},
        "seed": int(run.seed),
        "mode": run.mode,
        "recipe": recipe,
        "select_on": run.select_on,
        "evaluator": run.evaluator,
        "artifacts": artifact_config(method, run.prior_path),
    }
    try:
        digest = config_hash(config)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"configuration of '{selector}' on '{run.dataset}' is not JSON-serialisable: {exc}") from None
    return ResolvedRun(run, method, selector, dataset, config, digest)


def _record_failure(store: Store, run_id: str, reason: str) -> None:
    try:
        store.fail_run(run_id, reason)
    except StoreError:
        pass  # the record keeps "running" and is reported stale once its heartbeat stops


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def execute(
    run: RunConfig | ResolvedRun,
    store: Store,
    *,
    force: bool = False,
    progress: bool | None = None,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
) -> RunOutcome:
    """Run one configuration into ``store`` (see the module docstring).

    Raises the input errors of resolution and data loading before anything is stored, ``RunFailed``
    for an error after the attempt is recorded, and re-raises ``KeyboardInterrupt`` after
    recording the attempt as failed.
    """
    started = time.perf_counter()
    resolved = run if isinstance(run, ResolvedRun) else resolve_config(run)
    if not force:
        done = store.latest_done(resolved.config_hash)
        if done is not None:
            return RunOutcome("skipped", done)
    prepared = prepare(resolved.dataset, resolved.run.split_seed, resolved.run.val_fraction)
    options = resolved.run
    run_id = store.start_run(
        config=resolved.config, config_hash=resolved.config_hash, method=resolved.method_selector,
        dataset=resolved.dataset.label, seed=options.seed, split_seed=options.split_seed,
        manifest_sha256=prepared.manifest.sha256, env=environment(options.device),
        extra={"selected_on_test": options.select_on == "test"},
    )
    try:
        with Heartbeat(store.path, run_id, heartbeat_seconds):
            results = MODE_RUNNERS[options.mode](resolved, prepared, store, progress)
            wall = time.perf_counter() - started
            results["timings"]["wall_s"] = wall
            results["cost"]["device_hours"] = wall / 3600.0 * results["cost"]["device_count"]
            store.finish_run(run_id, **results)
    except KeyboardInterrupt:
        _record_failure(store, run_id, "interrupted (KeyboardInterrupt)")
        raise
    except Exception as exc:
        reason = _one_line(exc)
        _record_failure(store, run_id, reason)
        raise RunFailed(run_id, reason) from exc
    except BaseException as exc:
        _record_failure(store, run_id, _one_line(exc))
        raise
    return RunOutcome("done", store.get_run(run_id))

