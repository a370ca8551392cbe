"""Artifacts: values a method declares it needs, produced by the engine before training.

A method names what it needs in ``requires`` (or, per instance, ``required_artifacts()``); the
trainer hands each value to it as ``state.artifacts[name]``. ``@register_artifact(name)`` registers
the producer ``fn(request) -> (value, provenance dict)``.

Built-in ``class_prior`` (CSL, Ben-Baruch et al. CVPR 2022, §4): the run's ``prior_path`` (the
official ``Classes,avg_pred`` CSV, class order checked) when given; otherwise a temporary
``ignore``-method model trained on the same training rows, model, recipe and seed (by the mode's
``ArtifactRequest.estimate_prior`` when it gives one, as ``finetune`` does; else on the request's
features), and

* ``posthoc`` (default, CSL eq. 10): prior_c = mean over the training rows of sigmoid(z_c), one
  inference pass after training;
* ``running`` (the official ``ComputePrior``): the running mean of sigmoid(z_c) over every training
  step's predictions since step 0,

the estimator being the method's ``prior_estimator`` parameter. A produced prior is cached in the
store's artifacts table under the sha256 of (manifest sha256, dataset plugin identity and parameters,
mode, recipe, seed, estimator, the temporary method's identity), so every run sharing those reuses it. When the true class frequencies
are known (fully labelled datasets), the provenance holds the Spearman correlation of the estimate
with them (CSL Figure 7).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch
from torch import nn

from bench.core.errors import InputError
from bench.core.hashing import file_sha256, json_sha256
from bench.labels.store import StoredLabels
from bench.plugins.method import LabelStore, Method
from bench.metrics import top_k_spearman
from bench.runs.prior import PriorAccumulator, posthoc_prior, prior_spearman, read_prior_csv
from bench.plugins.registry import METHODS, plugin_identity
from bench.training.inference import logits_of
from bench.training.trainer import train

if TYPE_CHECKING:
    from bench.runs.resolve import PreparedDataset
    from bench.runs.execute import ResolvedRun
    from bench.store import Store

PRIOR_METHOD = "ignore"


class ArtifactError(InputError):
    """An artifact nobody produces, or an artifact option that does not apply."""


@dataclass
class ArtifactRequest:
    """What a producer may use: the run, its dataset and store, the model builder and training data;
    ``estimate_prior(estimator)``, when given, trains the temporary prior model the mode's own way."""

    resolved: ResolvedRun
    prepared: PreparedDataset
    store: Store
    build: Callable[[], nn.Module]
    train_features: torch.Tensor
    train_labels: StoredLabels
    progress: bool | None = None
    estimate_prior: Callable[[str], np.ndarray] | None = None


Producer = Callable[[ArtifactRequest], tuple[Any, dict[str, Any]]]
_PRODUCERS: dict[str, Producer] = {}


def register_artifact(name: str) -> Callable[[Producer], Producer]:
    """Register ``fn(request) -> (value, provenance)`` as the producer of artifact ``name``."""

    def decorator(fn: Producer) -> Producer:
        _PRODUCERS[name] = fn
        return fn

    return decorator


def required_artifacts(method: Method) -> tuple[str, ...]:
    """The artifact names ``method`` reads: ``method.required_artifacts()`` when it defines one,
    else its class's ``requires``."""
    per_instance = getattr(method, "required_artifacts", None)
    names = tuple(per_instance() if callable(per_instance) else type(method).requires)
    unknown = [n for n in names if n not in _PRODUCERS]
    if unknown:
        raise ArtifactError(f"method '{method.name}' requires artifact '{unknown[0]}', which nothing produces; "
                            f"known: {', '.join(sorted(_PRODUCERS))}")
    return names


def artifact_config(method: Method, prior_path: str | None) -> dict[str, Any]:
    """The part of a run's configuration that identifies its artifacts (hashed with the rest)."""
    names = required_artifacts(method)
    if prior_path is not None and "class_prior" not in names:
        raise ArtifactError(f"prior_path given, but method '{method.name}' with these parameters uses no class prior")
    out: dict[str, Any] = {}
    if "class_prior" in names:
        if prior_path is not None:
            try:
                out["class_prior"] = {"source": "file", "sha256": file_sha256(prior_path)}
            except OSError as exc:
                raise ArtifactError(f"prior_path {prior_path}: {exc.strerror or exc}") from None
        else:
            out["class_prior"] = {"source": "run", "method": plugin_identity(METHODS.get(PRIOR_METHOD))}
    for name in names:
        producer = _PRODUCERS[name]
        out.setdefault(name, {"source": "producer", "producer": f"{producer.__module__}.{producer.__qualname__}"})
    return out


def resolve_artifacts(method: Method, request: ArtifactRequest) -> tuple[dict[str, Any], dict[str, dict]]:
    """Produce every artifact ``method`` requires: (name -> value, name -> provenance)."""
    values, provenance = {}, {}
    for name in required_artifacts(method):
        values[name], provenance[name] = _PRODUCERS[name](request)
    return values, provenance


def spearman_by_top_k(prior: np.ndarray, true_counts: np.ndarray) -> dict[str, float]:
    """CSL Figure 7: Spearman's rho of the estimated prior with the true class frequencies over the
    k most frequent classes, for k = 10, 20, ... and k = C (keys are k as text; NaN values dropped)."""
    num_classes = len(true_counts)
    ks = sorted({*range(10, num_classes + 1, 10), num_classes} - {0, 1})
    curve = {str(k): top_k_spearman(prior, true_counts, k) for k in ks}
    return {k: rho for k, rho in curve.items() if not np.isnan(rho)}


def _train_prior(request: ArtifactRequest, estimator: str) -> np.ndarray:
    """Train the temporary ignore-method model and return its prior estimate (float64, (C,))."""
    run = request.resolved.run
    accumulator = PriorAccumulator(request.train_labels.shape[1])
    observers = (lambda logits, state: accumulator.update(logits),) if estimator == "running" else ()
    result = train(
        request.build, METHODS.get(PRIOR_METHOD)(), features=request.train_features,
        label_store=LabelStore(request.train_labels, request.train_features.device), recipe=run.recipe,
        seed=run.seed, monitor=None, select_best=False, progress=request.progress, step_observers=observers,
    )
    if estimator == "running":
        return accumulator.value()
    return posthoc_prior(logits_of(result.model, request.train_features))


@register_artifact("class_prior")
def class_prior(request: ArtifactRequest) -> tuple[torch.Tensor, dict[str, Any]]:
    """The class prior of the run (see the module docstring): C float32 values in class order."""
    run, manifest = request.resolved.run, request.prepared.manifest
    if run.prior_path is not None:
        values = read_prior_csv(run.prior_path, manifest.class_names)
        meta: dict[str, Any] = {"source": "file", "path": str(run.prior_path), "sha256": file_sha256(run.prior_path)}
    else:
        estimator = str(request.resolved.method.params.get("prior_estimator", "posthoc"))
        config = request.resolved.config
        key_fields = {
            "manifest_sha256": manifest.sha256, "dataset": config["dataset"], "mode": run.mode,
            "recipe": config["recipe"], "seed": run.seed, "estimator": estimator,
            "method": plugin_identity(METHODS.get(PRIOR_METHOD)),
        }
        key = json_sha256(key_fields)
        cached = request.store.get_artifact("class_prior", key)
        if cached is not None:
            values = np.frombuffer(cached[0], dtype="<f8").copy()
            meta = {**cached[1], "cached": True}
        else:
            train_prior = request.estimate_prior or (lambda name: _train_prior(request, name))
            values = train_prior(estimator)
            meta = {"source": "run", "key": key, **key_fields}
            request.store.put_artifact("class_prior", key, values.astype("<f8").tobytes(), meta)
            meta = {**meta, "cached": False}
    if manifest.true_positives is not None:
        rho = prior_spearman(values, manifest.true_positives)
        meta["spearman"] = None if np.isnan(rho) else rho
        meta["spearman_topk"] = spearman_by_top_k(values, manifest.true_positives)
    device = request.train_features.device
    return torch.as_tensor(values, dtype=torch.float32, device=device), meta
