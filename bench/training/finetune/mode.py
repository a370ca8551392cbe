"""Mode ``finetune``: train a timm backbone end to end on an image dataset, then score the test split.

The run builds ``create_backbone(recipe.backbone, C, recipe.pretrained)`` under ``manual_seed(seed)``,
trains it on the manifest's training rows (partial labels in a ``LabelStore``) with the recipe
(``bench.training.finetune.loop``), selects (epoch, raw/EMA) on the validation rows, on the last
epoch, or -- only when asked, and flagged -- on the test split, and scores the test split with both
the raw and the EMA weights of the selected epoch: the record's metrics and test scores are those of
the selected variant, ``extra.test_variants`` holds both. Test labels are read only after training.
``cost["epochs"]`` counts the epochs trained (fewer than the recipe's after an early stop, see
``stop_below_best``). A backbone started from random weights gets a run note (``extra["notes"]``, also warned once as a
``RunNoteWarning``). ``extra["precision"]`` (and ``cost["amp"]``) record the autocast dtype used,
the recipe's ``amp`` and whether a GradScaler ran (fp16 only). With ``progress=None`` the per-epoch
progress (loss, monitored mAP, images/s; rich, on stderr) shows only when stderr is a terminal.

A method that needs a class prior gets it from ``--prior-path`` or from a temporary model trained
the same way with the method its ``PriorSpec`` names (``bench.training.finetune.prior``; cached in
the store by ``bench.runs.prior``). Checkpoints go
to ``bench.training.checkpoint.checkpoint_root(store)/<config hash>``; with ``run.resume`` a
run continues from the last finished epoch. They are removed once the run's results are computed.
Under DDP every process trains its shard, the monitored split is scored collectively, and rank 0
alone scores the test split and returns the results (the other ranks return None).
"""
from __future__ import annotations

import os
import sys
import time
import warnings
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import torch
from scipy.special import expit

from bench.core.errors import RunNoteWarning
from bench.labels.encoding import validate_labels
from bench.metrics import evaluate
from bench.metrics.entries import canonical_entry_scores
from bench.plugins.method import LabelStore, Method
from bench.runs.artifacts import ArtifactRequest, resolve_artifacts
from bench.runs.resolve import PreparedDataset
from bench.runs.result import RunResult
from bench.training.backbones import create_backbone, weights_notes
from bench.training.checkpoint import LAST, RunCheckpoints, checkpoint_root
from bench.training.distributed import world
from bench.training.finetune.loop import fit
from bench.training.finetune.prior import estimate_prior
from bench.training.finetune.setup import FinetuneError, FitSetup, Monitored
from bench.training.image_recipe import recipe_transform
from bench.training.images import BadImages, ImageRows
from bench.training.images.inference import Precision, amp_dtype, infer
from bench.training.images.loader import default_workers
from bench.training.linear_mode import peak_host_mb
from bench.training.tensors import store_labels

if TYPE_CHECKING:
    from bench.runs.config import ResolvedRun
    from bench.store import Store



@contextmanager
def deterministic_algorithms(enabled: bool) -> Iterator[None]:
    """``torch.use_deterministic_algorithms(enabled)`` (cuDNN autotuning off when enabled) for the
    duration; on CUDA it needs ``CUBLAS_WORKSPACE_CONFIG``, set here if cuBLAS is not yet initialised."""
    before, benchmark = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled)
    torch.backends.cudnn.benchmark = not enabled
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)
        torch.backends.cudnn.benchmark = benchmark


def _monitor(resolved: ResolvedRun, prepared: PreparedDataset, transform: Any, size: int) -> Monitored | None:
    data = prepared.data
    if resolved.run.select_on == "test":
        paths, labels, name = data.test.images, data.test.labels, "test"
    elif prepared.rows("val").size:
        paths = [data.train.images[i] for i in prepared.rows("val")]
        labels, name = prepared.labels("val"), "val"
    else:
        return None
    return Monitored(name, ImageRows(paths, transform, size), labels, BadImages(name, paths))


def _score_test(setup: FitSetup, result: Any, rows: ImageRows, bad: BadImages, batch: int) -> dict[str, np.ndarray]:
    scores = {}
    for variant, state in (("raw", result.raw_state), ("ema", result.ema_state)):
        if state is None:
            continue
        setup.model.load_state_dict(state)
        outputs = infer(setup.model, rows, bad, batch_size=batch, workers=setup.workers, device=setup.device,
                        precision=setup.precision, collective=False)
        scores[variant] = expit(outputs).astype(np.float32)
    return scores


class SetupFactory:
    """Builds the ``FitSetup`` of the run's model and of its temporary prior model (same backbone,
    recipe, rows, augmentation and seed; the prior model gets the method the ``PriorSpec`` names, a
    copy of the labels, no monitor and no checkpoints)."""

    def __init__(self, resolved: ResolvedRun, prepared: PreparedDataset, store: Store, progress: bool | None):
        run, data = resolved.run, prepared.data
        self.resolved, self.prepared, self.store, self.progress = resolved, prepared, store, progress
        self.recipe, self.device = run.recipe, torch.device(run.device)
        self.train_paths = [data.train.images[i] for i in prepared.rows("train")]
        self.labels = store_labels(prepared.labels("train"), self.device)
        self.workers = default_workers(self.device) if run.workers is None else run.workers
        self.precision = Precision(amp_dtype(self.recipe.amp, self.device),
                                   self.recipe.channels_last and self.device.type == "cuda")

    def model(self) -> tuple[torch.nn.Module, Any]:
        """The backbone with a C-way head, built under ``manual_seed(seed)``, and its weights' provenance."""
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(self.resolved.run.seed)
            return create_backbone(self.recipe.backbone, self.prepared.data.num_classes, self.recipe.pretrained,
                                   self.recipe.classifier, self.recipe.bottleneck_dim)

    def setup(self, model: torch.nn.Module, method: Any, *, main: bool, artifacts: dict[str, Any]) -> FitSetup:
        run = self.resolved.run
        return FitSetup(
            model=model, method=method, recipe=self.recipe, seed=run.seed,
            label_store=LabelStore(self.labels, self.device), device=self.device, precision=self.precision,
            train_rows=ImageRows(self.train_paths, recipe_transform(self.recipe, model, True), self.recipe.image_size,
                                 seed=run.seed),
            train_bad=BadImages("train", self.train_paths), workers=self.workers, artifacts=artifacts,
            monitor=_monitor(self.resolved, self.prepared, recipe_transform(self.recipe, model, False),
                             self.recipe.image_size) if main else None,
            checkpoints=RunCheckpoints(checkpoint_root(self.store.path), self.resolved.config_hash) if main else None,
            resume=run.resume and main, progress=sys.stderr.isatty() if self.progress is None else self.progress,
        )

    def prior(self, method: Method, estimator: str) -> np.ndarray:
        """The class prior estimated by a temporary ``method`` model (``bench.training.finetune.prior``)."""
        model, _ = self.model()
        setup = self.setup(model, method, main=False, artifacts={})
        images = ImageRows(self.train_paths, recipe_transform(self.recipe, model, False), self.recipe.image_size)
        return estimate_prior(setup, estimator, images)

    def artifacts(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The artifacts the method requires (a class prior: from ``--prior-path`` or estimated)."""
        request = ArtifactRequest(self.resolved, self.prepared, self.store, str(self.device), self.prior)
        return resolve_artifacts(self.resolved.method, request)


def run_finetune(resolved: ResolvedRun, prepared: PreparedDataset, store: Store,
                 progress: bool | None) -> RunResult | None:
    """Train and evaluate (see the module docstring); None on the processes other than rank 0."""
    run, data, recipe, here = resolved.run, prepared.data, resolved.run.recipe, world()
    device = torch.device(run.device)
    reason = resolved.method.compatible("finetune", type(resolved.dataset.plugin), processes=here.size)
    if reason:
        raise FinetuneError(f"method '{resolved.method.name}': {reason}")
    test_labels = validate_labels(data.test.labels, f"dataset '{data.name}' test labels", data.num_classes)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    factory = SetupFactory(resolved, prepared, store, progress)
    with deterministic_algorithms(recipe.deterministic):
        artifacts, provenance = factory.artifacts()
        model, weights = factory.model()
        setup = factory.setup(model, resolved.method, main=True, artifacts=artifacts)
        if recipe.stop_below_best is not None and setup.monitor is None:
            raise FinetuneError(f"recipe stop_below_best {recipe.stop_below_best:g} needs a monitored split (a "
                                "validation split, or --select-on test); this run has none")
        if not run.resume and (setup.checkpoints.folder / LAST).is_file() and here.is_main:
            warnings.warn(f"starting over: {setup.checkpoints.folder / LAST} holds an interrupted attempt of this "
                          "configuration, which --resume would continue", stacklevel=2)
        result = fit(setup, select_best=run.select_on != "last")
        if not here.is_main:
            return None
        started = time.perf_counter()
        test_bad = BadImages("test", data.test.images)
        test_rows = ImageRows(data.test.images, recipe_transform(recipe, model, False), recipe.image_size)
        scores = _score_test(setup, result, test_rows, test_bad, recipe.batch_size)
    variant = result.selection["variant"]
    notes = weights_notes(recipe.backbone, weights.source)
    for note in notes:
        warnings.warn(note, RunNoteWarning, stacklevel=2)
    amp = str(setup.precision.autocast).replace("torch.", "") if setup.precision.autocast else "off"
    evaluations = {v: evaluate(s, test_labels, run.evaluator, data.class_groups) for v, s in scores.items()}
    eval_seconds = result.eval_seconds + time.perf_counter() - started
    setup.checkpoints.clear()
    return RunResult(
        evaluation=evaluations[variant], class_names=list(data.class_names), selection=result.selection,
        timings={"train_s": result.train_seconds, "eval_s": eval_seconds},
        cost={
            "device": device.type, "device_count": here.size, "peak_host_mb": peak_host_mb(),
            "peak_cuda_mb": torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None,
            "samples_per_s": result.images_seen / max(result.train_seconds, 1e-9), "epochs": len(result.history),
            "steps": result.steps, "amp": amp,
        },
        test_scores=canonical_entry_scores(scores[variant], test_labels).astype(np.float32),
        extra={
            "history": result.history, "label_changes": setup.label_store.changes, "artifacts": provenance,
            "train_rows": len(factory.train_paths), "val_rows": int(prepared.rows("val").size),
            "backbone": {"name": recipe.backbone, "weights": weights.to_dict()},
            "precision": {"amp": amp, "requested": recipe.amp, "grad_scaler": setup.precision.autocast == torch.float16,
                          "channels_last": setup.precision.channels_last, "deterministic": recipe.deterministic},
            "notes": notes,
            "test_variants": {v: {"map_c": e.map_c, "map_o": e.map_o} for v, e in evaluations.items()},
            "bad_images": {"train": setup.train_bad.to_dict(), "test": test_bad.to_dict(),
                           **({setup.monitor.name + "_monitor": setup.monitor.bad.to_dict()} if setup.monitor else {})},
            "resumed_from_epoch": result.resumed_from_epoch, "world_size": here.size,
        },
    )
