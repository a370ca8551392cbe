"""The end-to-end image training loop of ``--mode finetune`` (the CSL recipe, docs/methods.md §6).

Per step: the batch's unreadable images are dropped (``BadImages``), the forward runs under autocast
on CUDA (``Precision``), the method's loss is computed in float32 (``Method`` guarantees it), Adam
with coupled L2 weight decay on weight matrices only (none on biases and 1-D parameters; the
classifier at ``classifier_lr_mult`` x lr) steps through a GradScaler (active for float16 only), the
recipe's schedule steps (``OneCycleLR(max_lr=lr, pct_start)`` or a constant lr;
``bench.training.finetune.optim``), and the EMA copy (timm ``ModelEmaV3``, constant decay,
parameters and buffers) is updated.

After every epoch the monitored split (validation, or the test split when asked) is scored with the
raw and the EMA weights; the selection keeps the best (epoch, variant) by mAP(C), earliest epoch and
raw first on ties, as the official code keeps max(regular, EMA). Without selection the last epoch's
weights are kept. ``best.pt`` then ``last.pt`` are written atomically (``bench.training.checkpoint``).
With ``stop_below_best`` = d, training ends after the first epoch whose best monitored mAP(C) (over
the variants) is more than d points below the best so far (Large Loss Matters' train.py: ``elif
bestmap_val - map_val > 3: break``); that epoch's history record holds ``stopped_early`` and the
selection ``stopped_at_epoch``, and a resumed run that had stopped trains no further.

Determinism: the model is built under ``manual_seed(seed)``; epoch e's order, augmentation and
global random draws (dropout, drop-path) are seeded from (seed, e), so a run resumed from the
checkpoint of epoch e continues exactly as the uninterrupted run (on the CPU, or with
``deterministic``). ``recipe.batch_size`` is the global batch: each of N processes takes 1/N of it.

Divergence: as the feature-head trainer (``bench.training.trainer.divergence_warning``), the first
epoch whose mean loss exceeds 5 times the first step's (the first step whose images all loaded and
whose loss is positive; ``first_step_loss`` in the history) gets ``loss_warning`` in its history
record and in the selection, and one ``TrainingWarning`` on rank 0. Both survive ``--resume`` (the
history is in the checkpoint).
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import replace
from typing import Any

import torch
from scipy.special import expit
from timm.utils import ModelEmaV3
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from bench.metrics import evaluate
from bench.plugins.method import Method, TrainState
from bench.runs.tracking import current_tracker
from bench.training.checkpoint import BEST, LAST
from bench.training.distributed import barrier, broadcast_from_main, world
from bench.training.finetune.optim import finetune_optimizer, finetune_schedule
from bench.training.finetune.selection import Selection, stop_reason
from bench.training.finetune.setup import FinetuneError, FitResult, FitSetup
from bench.training.finetune.state import cpu_state, restore, snapshot
from bench.training.images import image_loader, shard
from bench.training.images.inference import infer
from bench.training.images.loader import epoch_order
from bench.training.images.progress import epoch_progress
from bench.training.images.rows import sample_seed
from bench.training.steps import TrainingWarning, checked_loss, divergence_warning, method_table

GLOBAL_STREAM = 2**41  # seed stream of an epoch's global random draws


def ddp_gradient_scale(method: Method, processes: int) -> float:
    """The factor on each process's loss so that DDP's gradient average equals the gradient of the
    whole batch's loss: the process count for a ``sum`` reduction (the average of per-shard sums is
    1/N of the sum), 1 for ``mean`` (the average of equal-size shard means is the mean) and for
    methods without a ``reduction`` parameter."""
    return float(processes) if method.params.get("reduction") == "sum" else 1.0


class Trainer:
    """One ``fit`` call's state (model, optimiser, schedule, EMA, selection); see the module docstring."""

    def __init__(self, setup: FitSetup):
        self.setup, recipe, here = setup, setup.recipe, world()
        if recipe.batch_size % here.size:
            raise FinetuneError(f"batch_size {recipe.batch_size} is not divisible by the {here.size} processes")
        self.local_batch = recipe.batch_size // here.size
        rows_per_process = math.ceil(len(setup.train_rows) / here.size)
        self.steps_per_epoch = max(1, math.ceil(rows_per_process / self.local_batch))
        self.model = setup.model.to(setup.device)
        if setup.precision.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = finetune_optimizer(self.model, recipe)
        self.table = method_table(setup.method, setup.label_store, setup.seed, setup.device)
        if self.table is not None:  # a method's own trainable table (ROLE's label estimator), its own lr
            lr = recipe.lr * setup.method.trainable_lr_mult()
            self.optimizer.add_param_group({"params": [self.table], "lr": lr, "weight_decay": 0.0})
        self.schedule = finetune_schedule(self.optimizer, recipe, self.steps_per_epoch)
        self.ema = ModelEmaV3(self.model, decay=recipe.ema_decay) if recipe.ema_decay > 0 else None
        self.scaler = torch.amp.GradScaler(setup.device.type, enabled=setup.precision.autocast == torch.float16)
        self.forward_model: nn.Module = self.model
        self.gradient_scale = ddp_gradient_scale(setup.method, here.size)
        if here.size > 1:
            ids = [setup.device.index] if setup.device.type == "cuda" else None
            self.forward_model = DistributedDataParallel(self.model, device_ids=ids)
        self.state = TrainState(artifacts=dict(setup.artifacts), label_store=setup.label_store,
                                num_classes=setup.label_store.num_classes, num_epochs=recipe.epochs,
                                steps_per_epoch=self.steps_per_epoch)
        self.history: list[dict[str, Any]] = []
        self.first_step_loss: float | None = None
        self.loss_warning: str | None = None
        self.selection = Selection()
        self.epoch_values: dict[str, float] = {}
        self.step, self.train_seconds, self.eval_seconds, self.images_seen = 0, 0.0, 0.0, 0

    def restore(self) -> int:
        """Load ``last.pt`` (and ``best.pt``) when resuming; return the first epoch to train."""
        checkpoints = self.setup.checkpoints
        last = checkpoints.load(LAST) if self.setup.resume and checkpoints is not None else None
        if last is None:
            return 1
        self.selection = Selection(checkpoints.load(BEST))
        first = restore(self, last)
        self.first_step_loss = next((h["first_step_loss"] for h in self.history if "first_step_loss" in h), None)
        self.loss_warning = next((h["loss_warning"] for h in self.history if "loss_warning" in h), None)
        return first

    def check_divergence(self, record: dict[str, Any]) -> None:
        """Add ``first_step_loss`` / ``loss_warning`` to the epoch's ``record`` (see the module docstring)."""
        if self.first_step_loss is not None and not any("first_step_loss" in h for h in self.history):
            record["first_step_loss"] = self.first_step_loss
        if self.loss_warning is not None:
            return
        self.loss_warning = divergence_warning(record["epoch"], record["loss"], self.first_step_loss,
                                               self.setup.recipe.lr)
        if self.loss_warning is not None:
            record["loss_warning"] = self.loss_warning
            if world().is_main:
                warnings.warn(self.loss_warning, TrainingWarning, stacklevel=3)

    def train_epoch(self, epoch: int, bar: Any) -> dict[str, Any]:
        """One pass over this process's shard of the epoch's order; the epoch's history record."""
        setup, here, started = self.setup, world(), time.perf_counter()
        torch.manual_seed(sample_seed(setup.seed, epoch, GLOBAL_STREAM))
        order = shard(epoch_order(len(setup.train_rows), setup.seed, epoch), here.rank, here.size, pad=True)
        setup.train_rows.set_epoch(epoch)
        self.model.train()
        self.state.epoch, self.state.step = epoch, self.step
        setup.method.on_epoch_start(self.state)
        total_loss, seen = 0.0, 0
        for batch in image_loader(setup.train_rows, order, self.local_batch, setup.workers, setup.device):
            good = setup.train_bad.note(batch.positions, batch.errors)
            if not bool(good.any()) and here.size == 1:
                continue
            loss = self._step(batch.images, batch.positions, good)
            current_tracker().log_metrics({"loss": float(loss), "lr": self.state.extra["lr"]}, self.state.step)
            total_loss += float(loss)
            seen += int(good.sum())
            bar.advance(seen * here.size / max(time.perf_counter() - started, 1e-9), float(loss))
        seconds = time.perf_counter() - started
        self.train_seconds += seconds
        self.images_seen += seen * here.size
        return {"epoch": epoch, "loss": total_loss / self.steps_per_epoch, "seconds": seconds,
                "images_per_s": seen * here.size / max(seconds, 1e-9)}

    def _step(self, images: torch.Tensor, positions: torch.Tensor, good: torch.Tensor) -> torch.Tensor:
        setup, state = self.setup, self.state
        state.step, state.indices = self.step, positions[good]
        state.extra["lr"] = self.optimizer.param_groups[0]["lr"]
        if self.table is not None:
            state.extra[setup.method.trainable_state_key] = self.table[state.indices]
        usable = bool(good.any())
        with setup.precision.context(setup.device):
            logits = self.forward_model(setup.precision.batch(images[good] if usable else images, setup.device))
        if usable:
            loss = checked_loss(setup.method, logits, setup.label_store.batch(positions[good]), state)
            if self.first_step_loss is None and bool(good.all()) and float(loss.detach()) > 0:
                self.first_step_loss = float(loss.detach())
        else:  # every image of this process's batch is unreadable: a zero loss keeps DDP in step
            if setup.method.gathers_global_batch():  # and the other processes' loss waits for this one's
                setup.method.loss(logits[:0], setup.label_store.batch(positions[:0]), state)
            loss = logits.float().sum() * 0.0
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss * self.gradient_scale).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.schedule.step()
        if self.ema is not None:
            self.ema.update(self.model)
        setup.method.on_step_end(state)
        if usable:
            for observe in setup.step_observers:
                observe(logits.detach(), state)
        self.step += 1
        return loss.detach()

    def monitor_epoch(self, epoch: int, record: dict[str, Any]) -> bool:
        """Score the monitored split with every variant (rank 0 gets the scores) and update the
        selection; True when it changed."""
        monitor, started = self.setup.monitor, time.perf_counter()
        values = {}
        for variant, module in self.variants().items():
            scores = infer(module, monitor.rows, monitor.bad, batch_size=self.local_batch, workers=self.setup.workers,
                           device=self.setup.device, precision=self.setup.precision)
            if scores is not None:
                values[variant] = record[f"{monitor.name}_map_c_{variant}"] = float(
                    evaluate(expit(scores), monitor.labels, evaluator="partial").map_c)
        self.eval_seconds += time.perf_counter() - started
        self.epoch_values = values
        return self.selection.consider(epoch, values, self.variants())

    def stop_early(self, record: dict[str, Any]) -> bool:
        """Apply ``stop_below_best`` after an epoch was monitored (the decision of rank 0, on every
        process): True, with ``record["stopped_early"]``, when training ends here."""
        margin, best = self.setup.recipe.stop_below_best, self.selection.best
        reason = stop_reason(self.epoch_values, best["value"] if best else None, margin) if world().is_main else None
        reason = broadcast_from_main(reason) if margin is not None else None
        if reason is not None:
            record["stopped_early"] = reason
        return reason is not None

    def stopped(self) -> bool:
        """True when the restored history ends with an early stop."""
        return bool(self.history) and "stopped_early" in self.history[-1]

    def variants(self) -> dict[str, nn.Module]:
        """{"raw": model} and, with EMA, {"ema": its copy}."""
        return {"raw": self.model, **({"ema": self.ema.module} if self.ema is not None else {})}

    def save(self, epoch: int, best_changed: bool) -> None:
        """Rank 0 writes ``best.pt`` (when it changed) then ``last.pt``; every process waits."""
        checkpoints = self.setup.checkpoints
        if checkpoints is not None and world().is_main:
            if best_changed:
                checkpoints.save(BEST, self.selection.best)
            checkpoints.save(LAST, snapshot(self, epoch))
        barrier()


def fit(setup: FitSetup, select_best: bool) -> FitResult:
    """Train for ``recipe.epochs`` epochs (continuing from ``last.pt`` when resuming) and select.

    Under DDP only rank 0 holds the selection and the selected weights (empty on the other ranks).
    """
    if select_best and setup.monitor is None:
        raise FinetuneError("model selection on a split needs a monitored split (got none)")
    trainer = Trainer(setup)
    first = trainer.restore()
    last = setup.recipe.epochs if not trainer.stopped() else first - 1
    with epoch_progress(setup.progress and world().is_main, setup.recipe.epochs, trainer.steps_per_epoch, first) as bar:
        for epoch in range(first, last + 1):
            record = trainer.train_epoch(epoch, bar)
            trainer.check_divergence(record)
            changed = trainer.monitor_epoch(epoch, record) if setup.monitor is not None else False
            stop = setup.monitor is not None and trainer.stop_early(record)
            bar.show_metric(record)
            current_tracker().log_metrics({"lr": trainer.state.extra.get("lr", trainer.optimizer.param_groups[0]["lr"]),
                                           **{k: v for k, v in record.items()
                                              if k in ("loss", "images_per_s") or "_map_c_" in k}}, epoch, "epoch")
            trainer.history.append(record)
            trainer.save(epoch, changed)
            if stop:
                break
    resumed = first - 1 if first > 1 else None
    trained = trainer.history[-1]["epoch"] if trainer.history else setup.recipe.epochs
    stopped = {"stopped_at_epoch": trained} if trainer.history and "stopped_early" in trainer.history[-1] else {}
    done = FitResult({}, None, {}, trainer.history, trainer.step, trainer.train_seconds, trainer.eval_seconds,
                     trainer.images_seen, resumed)
    if not world().is_main:
        return done
    warned = {**stopped, **({"loss_warning": trainer.loss_warning} if trainer.loss_warning is not None else {})}
    if select_best:
        best = trainer.selection.best
        if best is None:
            raise FinetuneError(f"model selection on '{setup.monitor.name}': no epoch had a finite mAP(C); "
                                "select on 'last' or use a larger split")
        return replace(done, raw_state=best["raw"], ema_state=best["ema"],
                       selection={**trainer.selection.summary(setup.monitor.name), **warned})
    variants = {name: cpu_state(module) for name, module in trainer.variants().items()}
    return replace(done, raw_state=variants["raw"], ema_state=variants.get("ema"),
                   selection={"policy": "last", "epoch": trained,
                              "variant": "ema" if "ema" in variants else "raw", **warned})
