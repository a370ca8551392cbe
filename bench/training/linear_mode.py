"""Mode ``linear``: train a head on a feature dataset's features, then score the test split.

The run trains on the manifest's training rows with their partial labels (a ``LabelStore`` copy),
selects its model on the manifest's validation rows (partial labels, partial evaluator), on the last
epoch, or -- only when asked, and flagged -- on the test split. Test labels are read once training is
over (or by the trainer's monitor under ``select_on="test"``); no method ever receives them.
The record's test scores are sigmoid outputs at the annotated test entries, float32, in the
canonical CSR order of the test labels (``bench.metrics.entries.canonical_entry_scores``).
"""
from __future__ import annotations

import resource
import sys
import time
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch

from bench.labels.store import StoredLabels
from bench.metrics import evaluate
from bench.metrics.entries import canonical_entry_scores
from bench.plugins.method import LabelStore, Method
from bench.runs.artifacts import ArtifactRequest, resolve_artifacts
from bench.runs.prior import PriorAccumulator, posthoc_prior
from bench.runs.resolve import PreparedDataset
from bench.runs.result import RunResult
from bench.training.heads import build_model
from bench.training.inference import logit_chunks, predict, split_scores
from bench.training.tensors import intra_op_threads, store_labels
from bench.training.trainer import Monitor, train

PARALLEL_HEAD_WEIGHTS = 1 << 20

if TYPE_CHECKING:
    from bench.runs.config import ResolvedRun
    from bench.store import Store


def peak_host_mb() -> float:
    """Peak resident memory of this process so far, in MiB (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def _features(prepared: PreparedDataset, split: str, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(prepared.features(split), dtype=np.float32)).to(device)


def _monitor(resolved: ResolvedRun, prepared: PreparedDataset, device: torch.device) -> Monitor | None:
    policy = resolved.run.select_on
    if policy == "test":
        return Monitor("test", _features(prepared, "test", device), prepared.labels("test"))
    if prepared.rows("val").size == 0:
        return None
    return Monitor("val", _features(prepared, "val", device), prepared.labels("val"))


def cpu_threads(num_classes: int, feature_dim: int) -> int:
    """Intra-op threads of a CPU run: 1 for a head with fewer than ``PARALLEL_HEAD_WEIGHTS`` (2**20)
    weights (``intra_op_threads``: small heads lose to thread contention and stay independent of the
    machine's core count), else torch's default, all cores: an OpenImages-scale head (9,600 x 128)
    trains 1.7x faster per step on 2 threads than on 1 (measured at batch 64 on 2 cores)."""
    return 1 if num_classes * feature_dim < PARALLEL_HEAD_WEIGHTS else torch.get_num_threads()


def run_linear(resolved: ResolvedRun, prepared: PreparedDataset, store: Store, progress: bool | None) -> RunResult:
    """Train and evaluate (on ``cpu_threads`` intra-op threads on CPU)."""
    if torch.device(resolved.run.device).type == "cpu":
        data = prepared.data
        with intra_op_threads(cpu_threads(data.num_classes, int(data.train.features.shape[1]))):
            return _run(resolved, prepared, store, progress)
    return _run(resolved, prepared, store, progress)


def temporary_prior(build: Callable[[], torch.nn.Module], train_x: torch.Tensor, train_labels: StoredLabels,
                    resolved: ResolvedRun, progress: bool | None) -> Callable[[Method, str], np.ndarray]:
    """``ArtifactRequest.estimate_prior`` of this mode: train ``method`` (e.g. ``ignore``) on the
    run's features, recipe and seed, and return its class prior (float64, (C,)): ``posthoc`` (CSL
    eq. 10) or ``running`` (bench.runs.prior).

    The temporary model trains the recipe's ``lr`` and ``weight_decay`` under the recipe's
    convergence rule on the training loss (``plateau``: until the loss stops falling; ``onecycle``:
    the fixed budget) and keeps its last weights. It is not early-stopped or selected on the
    validation rows, although their partial labels could score it: the prior is a calibration
    statistic, and mAP(C) is blind to the per-class biases it depends on. On scene+rpa[p=0.5] the
    epoch of best validation mAP(C) came before those biases converged (calibration error 0.23 with
    a model selected so, under a validation-driven variant of the rule; 0.024 converged, checked by
    tests/runs/test_prior_calibration.py)."""

    def estimate(method: Method, estimator: str) -> np.ndarray:
        run = resolved.run
        accumulator = PriorAccumulator(train_labels.shape[1])
        observers = (lambda logits, state: accumulator.update(logits),) if estimator == "running" else ()
        result = train(
            build, method, features=train_x, label_store=LabelStore(train_labels, train_x.device), recipe=run.recipe,
            seed=run.seed, monitor=None, select_best=False, progress=progress, step_observers=observers,
            track_as="prior/",
        )
        if estimator == "running":
            return accumulator.value()
        return posthoc_prior(logit_chunks(result.model, train_x))

    return estimate


def _run(resolved: ResolvedRun, prepared: PreparedDataset, store: Store, progress: bool | None) -> RunResult:
    run, data = resolved.run, prepared.data
    device = torch.device(run.device)
    test_labels = data.test.labels
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    train_rows = np.ascontiguousarray(prepared.features("train"), dtype=np.float32)
    train_x = torch.from_numpy(train_rows).to(device)

    def build() -> torch.nn.Module:
        return build_model("linear", num_classes=data.num_classes, features=train_rows,
                           head=run.recipe.head, hidden=run.recipe.hidden)

    train_labels = store_labels(prepared.labels("train"), device)
    artifacts, provenance = resolve_artifacts(resolved.method, ArtifactRequest(
        resolved, prepared, store, run.device, temporary_prior(build, train_x, train_labels, resolved, progress)))
    label_store = LabelStore(train_labels, device)
    result = train(
        build, resolved.method, features=train_x, label_store=label_store, recipe=run.recipe, seed=run.seed,
        artifacts=artifacts, monitor=_monitor(resolved, prepared, device), select_best=run.select_on != "last",
        progress=progress,
    )
    started = time.perf_counter()
    test_x = _features(prepared, "test", device)
    if run.evaluator == "full":  # every entry counts: the dense scores
        scores = predict(result.model, test_x).numpy()
        evaluation = evaluate(scores, test_labels, run.evaluator, data.class_groups)
        stored_scores = canonical_entry_scores(scores, test_labels).astype(np.float32)
    else:  # sparse labels: only the annotated entries' scores, never the dense (N, C) matrix
        scores, labels = split_scores(result.model, test_x, test_labels)
        evaluation = evaluate(scores, labels, run.evaluator, data.class_groups)
        stored_scores = (scores if scores.ndim == 1 else canonical_entry_scores(scores, labels)).astype(np.float32)
    eval_seconds = result.eval_seconds + time.perf_counter() - started
    return RunResult(
        evaluation=evaluation, class_names=list(data.class_names), selection=result.selection,
        timings={"train_s": result.train_seconds, "eval_s": eval_seconds},
        cost={
            "device": device.type, "device_count": 1, "peak_host_mb": peak_host_mb(),
            "peak_cuda_mb": torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None,
            "samples_per_s": result.samples_per_s, "epochs": result.epochs, "steps": result.steps,
            "cpu_threads": torch.get_num_threads() if device.type == "cpu" else None,
        },
        test_scores=stored_scores,
        extra={
            "history": result.history, "label_changes": label_store.changes, "artifacts": provenance,
            "train_rows": int(train_x.shape[0]), "val_rows": int(prepared.rows("val").size),
        },
    )
