"""One (lr, weight_decay) candidate of a feature-head training, epoch by epoch
(``bench.training.trainer`` runs the candidates and selects).

``CandidateRun`` builds the model under ``torch.manual_seed(seed)`` (every candidate starts from
the same weights and draws its batches from its own generator seeded with ``seed``), then
``train_epoch`` runs one epoch (``bench.training.batches``) on the candidate's own global RNG
stream (saved after the build and between epochs, so a method or head that draws from torch's
global generator sees the same draws whether the candidates train one after the other or, when a
large grid is screened, interleaved) and its bookkeeping: the history
record, the divergence warning, the monitored mAP(C) with the best epoch's weights, the tracker's
epoch metrics, and under the ``plateau`` schedule the loss rule (``bench.training.convergence``)
and early stopping, which set ``done`` and ``fit.stopped``. ``train`` runs epochs until ``done``
(``epochs`` reached: ``stopped`` stays ``budget``).
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from rich.progress import Progress
from torch import nn

from bench.plugins.method import LabelStore, Method, TrainState
from bench.runs.recipe import Recipe
from bench.runs.tracking import current_tracker
from bench.training.adam import PlainAdam
from bench.training.batches import EpochBatches
from bench.training.candidates import Candidate
from bench.training.convergence import DROP, LR_DROP_FACTOR, STOP, Plateau
from bench.training.steps import (
    Monitor,
    StepObserver,
    adam_with_l2,
    checked_loss,
    divergence_warning,
    method_table,
    monitored_map,
)


@dataclass
class EpochLoop:
    """The pieces one epoch needs (``schedule`` None: the learning rate changes between epochs only)."""

    model: nn.Module
    method: Method
    optimizer: PlainAdam | torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler | None
    features: torch.Tensor
    state: TrainState
    observers: tuple[StepObserver, ...]
    first_step_loss: float | None = None
    table: torch.Tensor | None = None
    prefix: str = ""

    def epoch(self, batches: tuple[torch.Tensor, ...], on_step: Callable[[float], None]) -> float:
        """One pass over ``batches`` (row positions); returns the mean batch loss. Every step's loss
        and lr go to the run's tracker under ``prefix``."""
        tracker = current_tracker()
        self.model.train()
        self.method.on_epoch_start(self.state)
        total = 0.0
        for rows in batches:
            rows = rows.to(self.features.device)
            self.state.indices = rows
            self.state.extra["lr"] = self.optimizer.param_groups[0]["lr"]
            if self.table is not None:
                self.state.extra[self.method.trainable_state_key] = self.table[rows]
            logits = self.model(self.features[rows])
            loss = checked_loss(self.method, logits, self.state.label_store.batch(rows), self.state)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if self.schedule is not None:
                self.schedule.step()
            self.method.on_step_end(self.state)
            for observe in self.observers:
                observe(logits.detach(), self.state)
            value = float(loss.detach())
            if self.first_step_loss is None and value > 0:
                self.first_step_loss = value
            total += value
            tracker.log_metrics({"loss": value, "lr": self.state.extra["lr"]}, self.state.step, "step", self.prefix)
            self.state.step += 1
            on_step(value)
        return total / max(len(batches), 1)


@dataclass
class Setup:
    """What every candidate of one ``train`` call shares."""

    build: Callable[[], nn.Module]
    features: torch.Tensor
    recipe: Recipe
    seed: int
    artifacts: dict[str, Any]
    monitor: Monitor | None
    select_best: bool
    observers: tuple[StepObserver, ...]
    bar: Progress
    grid_size: int = 1
    track_as: str = ""


def _global_rng(device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    return torch.get_rng_state(), torch.cuda.get_rng_state(device) if device.type == "cuda" else None


def _set_global_rng(saved: tuple[torch.Tensor, torch.Tensor | None], device: torch.device) -> None:
    torch.set_rng_state(saved[0])
    if saved[1] is not None:
        torch.cuda.set_rng_state(saved[1], device)


class CandidateRun:
    """One candidate in training (see the module docstring); ``fit`` is its ``Candidate`` record."""

    def __init__(self, setup: Setup, index: int, lr: float, weight_decay: float, method: Method,
                 label_store: LabelStore) -> None:
        recipe, features = setup.recipe, setup.features
        device = features.device
        self.setup, self.done, self.epoch = setup, False, 0
        torch.manual_seed(setup.seed)
        model = setup.build().to(device)
        self._rng = _global_rng(device)
        self.batches = EpochBatches(features.shape[0], recipe.batch_size, torch.Generator().manual_seed(setup.seed),
                                    recipe.epoch_steps)
        self.optimizer = optimizer = adam_with_l2(model, lr, weight_decay, plain=recipe.schedule != "onecycle")
        max_lr: float | list[float] = lr
        table = method_table(method, label_store, setup.seed, device)
        if table is not None:
            optimizer.add_param_group({"params": [table], "lr": lr * method.trainable_lr_mult(), "weight_decay": 0.0})
            max_lr = [group["lr"] for group in optimizer.param_groups]
        schedule = None
        if recipe.schedule == "onecycle":
            schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, epochs=recipe.epochs,
                                                           steps_per_epoch=self.batches.steps,
                                                           pct_start=recipe.pct_start)
        self.state = TrainState(artifacts=dict(setup.artifacts), label_store=label_store,
                                num_classes=label_store.num_classes, num_epochs=recipe.epochs,
                                steps_per_epoch=self.batches.steps, extra={"candidate": index})
        self.prefix = setup.track_as + (f"candidate{index}/" if setup.grid_size > 1 else "")
        self.loop = EpochLoop(model, method, optimizer, schedule, features, self.state, setup.observers, table=table,
                              prefix=self.prefix)
        self.fit = Candidate(index, lr, weight_decay, model, method, label_store)
        self.rule = Plateau(recipe.patience, recipe.lr_drops)
        self.task = setup.bar.add_task("train", total=recipe.epochs * self.batches.steps, epoch=f"1/{recipe.epochs}",
                                       loss=float("nan"), val="-", speed=0.0,
                                       candidate=f"lr {lr:g} wd {weight_decay:g}")

    def train(self) -> Candidate:
        """Epochs until the candidate stops; its record."""
        while not self.done:
            self.train_epoch()
        return self.fit

    def train_epoch(self) -> None:
        """One epoch and its bookkeeping (see the module docstring)."""
        setup, fit, loop, state, bar = self.setup, self.fit, self.loop, self.state, self.setup.bar
        recipe, monitor = setup.recipe, setup.monitor
        self.epoch = epoch = self.epoch + 1
        started = time.perf_counter()
        state.epoch = epoch
        batches = self.batches.next_epoch()
        _set_global_rng(self._rng, loop.features.device)
        loss = loop.epoch(batches, lambda value: bar.update(self.task, advance=1, loss=value))
        self._rng = _global_rng(loop.features.device)
        samples = sum(map(len, batches))
        fit.samples += samples
        seconds = time.perf_counter() - started
        fit.train_seconds += seconds
        record = {"epoch": epoch, "loss": loss, "seconds": seconds}
        if loop.first_step_loss is not None and not any("first_step_loss" in h for h in fit.history):
            record["first_step_loss"] = loop.first_step_loss
        if fit.loss_warning is None:
            fit.loss_warning = divergence_warning(epoch, loss, loop.first_step_loss, fit.lr)
            if fit.loss_warning is not None:
                record["loss_warning"] = fit.loss_warning
        epoch_values = {"loss": loss, "lr": state.extra.get("lr", self.optimizer.param_groups[0]["lr"])}
        if monitor is not None:
            eval_started = time.perf_counter()
            record[f"{monitor.name}_map_c"] = epoch_values[f"{monitor.name}_map_c"] = value = \
                monitored_map(loop.model, monitor)
            fit.eval_seconds += time.perf_counter() - eval_started
            if setup.select_best and value > fit.best[0]:
                fit.best = (value, epoch, copy.deepcopy(loop.model.state_dict()))
            bar.update(self.task, val=f"{value:.2f}")
        current_tracker().log_metrics(epoch_values, epoch, "epoch", self.prefix)
        fit.history.append(record)
        fit.epochs, fit.steps = epoch, state.step
        bar.update(self.task, epoch=f"{epoch}/{recipe.epochs}", speed=samples / max(seconds, 1e-9))
        self.done = epoch >= recipe.epochs
        if recipe.schedule == "plateau":
            self._converge(loss, record)

    def _converge(self, loss: float, record: dict[str, Any]) -> None:
        """The plateau schedule after an epoch: stop on the loss rule or early stopping, else maybe drop the lr."""
        recipe, fit = self.setup.recipe, self.fit
        signal = self.rule.update(loss)
        selecting = self.setup.select_best and self.setup.monitor is not None
        if signal == STOP:
            fit.stopped, self.done = "plateau", True
        elif selecting and recipe.early_stopping and self.epoch - fit.best[1] >= recipe.early_stopping:
            fit.stopped, self.done = "validation", True
        elif signal == DROP:
            for group in self.optimizer.param_groups:
                group["lr"] *= LR_DROP_FACTOR
            record["lr_drop"] = self.optimizer.param_groups[0]["lr"]
