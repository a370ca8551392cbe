"""A run's configuration: what a user asks for (``RunConfig``), resolved once into a fully
specified, hashed ``ResolvedRun`` that everything downstream receives as a value.

``resolve_config`` types every method, dataset and protocol parameter (defaults filled in), adds the
plugins' identities (name, version, hash of every source file they depend on:
``bench.plugins.identity``) and the versions of the engine parts that define the computation
(``bench.runs.engine_versions``), lets the mode complete and check the recipe (``Mode.prepare``),
asks the method whether it can train in this mode on this dataset (``Method.compatible``), and
records the split, the selection policy and the artifacts the method declares. ``config_hash`` is
the sha256 of that dict as canonical JSON (sorted keys, compact, no NaN), so a changed default or
an edited plugin never merges old and new results. The device is not part of the hash (it is
recorded with the run's environment and cost).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.core.hashing import json_sha256
from bench.core.version import __version__
from bench.labels.protocols import default_val_labels, protocol_identity
from bench.metrics import EVALUATORS
from bench.plugins.registry import plugin_identity
from bench.runs.artifacts import artifact_config
from bench.runs.engine_versions import engine_versions
from bench.runs.modes import ConfigError, get_mode
from bench.runs.recipe import Recipe
from bench.runs.resolve import VAL_LABELS, ResolvedDataset, method_selector, resolve_dataset
from bench.runs.tracking import check_trackers

if TYPE_CHECKING:
    from bench.plugins.method import Method

SELECT_POLICIES = ("val", "last", "test")
MAX_SEED = 2**63 - 1  # seeds are stored as SQLite INTEGERs (signed 64 bit)


@dataclass
class RunConfig:
    """What a user asks for (``bench run`` options); see ``resolve_config``.

    ``val_labels`` (None: the protocol's default, ``bench.labels.protocols.default_val_labels``) is
    resolved to "partial" or "clean" and recorded in the configuration's split.
    ``device``, ``workers`` (image loader processes; None: ``default_workers``) and ``resume`` (continue from the
    configuration's last checkpoint, ``--mode finetune``) say how a run computes, not what: they are
    not part of the configuration hash. Nor is ``log``, the trackers that receive its curves
    (``bench.runs.tracking``: "tensorboard", "mlflow").
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
    val_labels: str | None = None
    log: tuple[str, ...] = ()


@dataclass
class ResolvedRun:
    """A run with its method object, resolved dataset, configuration dict and hash; ``run.recipe``
    is the recipe the mode completed."""

    run: RunConfig
    method: Method
    method_selector: str
    dataset: ResolvedDataset
    config: dict[str, Any]
    config_hash: str


def config_hash(config: dict[str, Any]) -> str:
    """sha256 (hex) of the configuration as canonical JSON (``bench.core.hashing.canonical_json``)."""
    return json_sha256(config)


def processes() -> int:
    """How many processes train this run: torchrun's ``WORLD_SIZE`` (1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def _is_seed(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= int(value) <= MAX_SEED


def check_options(run: RunConfig) -> None:
    """``ConfigError`` naming the first run option out of range (the recipe checks its own fields)."""
    checks = [
        *((_is_seed(value), f"{name} must be an integer in [0, 2**63 - 1 = {MAX_SEED}]; got {value!r}")
          for name, value in (("seed", run.seed), ("split_seed", run.split_seed))),
        (run.select_on in SELECT_POLICIES,
         f"select_on must be one of {', '.join(SELECT_POLICIES)}; got '{run.select_on}'"),
        (run.evaluator in EVALUATORS, f"evaluator must be one of {', '.join(EVALUATORS)}; got '{run.evaluator}'"),
        (run.workers is None or run.workers >= 0, f"workers must be >= 0; got {run.workers}"),
        (0.0 <= run.val_fraction < 1.0, f"val_fraction must be in [0, 1); got {run.val_fraction}"),
        (run.select_on != "val" or run.val_fraction > 0,
         "select_on 'val' needs a validation split: val_fraction > 0 (or select on 'last')"),
        (run.val_labels in (None, *VAL_LABELS),
         f"val_labels must be one of {', '.join(VAL_LABELS)}; got '{run.val_labels}'"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    check_trackers(run.log)
    _check_device(run.device)


def _check_device(name: str) -> None:
    import torch  # the device check alone needs torch; resolution stays importable without it

    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device '{name}' is not a torch device (cpu, cuda, cuda:1, ...)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device '{name}': no CUDA device is available")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"device '{name}': only cpu and cuda are supported")


def resolve_config(run: RunConfig, dataset: ResolvedDataset | None = None) -> ResolvedRun:
    """Type and check every option; build the configuration dict and its hash (no data loaded).
    ``dataset``: ``run.dataset`` already resolved by the caller (it is not resolved again)."""
    check_options(run)
    mode = get_mode(run.mode)
    cls, merged, selector = method_selector(run.method)
    method = cls(**merged)
    dataset = dataset if dataset is not None else resolve_dataset(run.dataset)
    dataset_class = type(dataset.plugin)
    recipe, recipe_config = mode.prepare(run.recipe, dataset_class)
    reason = method.compatible(run.mode, dataset_class, processes=processes())
    if reason:
        raise ConfigError(f"method '{selector}' cannot train in mode '{run.mode}' on '{dataset_class.name}': {reason}")
    run = replace(run, recipe=recipe, val_labels=run.val_labels or default_val_labels(dataset.protocol))
    config = {
        "bench_version": __version__,
        "engine": engine_versions(),
        "method": {**plugin_identity(cls), "params": method.params},
        "dataset": {**plugin_identity(dataset_class), "params": dict(dataset.plugin.params)},
        "protocol": None if dataset.protocol is None else protocol_identity(dataset.protocol, dataset.protocol_params),
        "split": {"split_seed": int(run.split_seed), "val_fraction": float(run.val_fraction),
                  "val_labels": run.val_labels},
        "seed": int(run.seed),
        "mode": run.mode,
        "recipe": recipe_config,
        "select_on": run.select_on,
        "evaluator": run.evaluator,
        "artifacts": artifact_config(method, {"prior_path": run.prior_path}),
    }
    try:
        digest = config_hash(config)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"configuration of '{selector}' on '{run.dataset}' is not JSON-serialisable: {exc}") from None
    return ResolvedRun(run, method, selector, dataset, config, digest)
