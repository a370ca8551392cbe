"""The training loop of feature heads: Adam, one-cycle or trained to convergence, seeded, with model
selection over an lr / weight-decay grid.

``train`` fits a model built under ``torch.manual_seed(seed)`` with Adam (``bench.training.adam``;
coupled L2 weight decay on weight matrices only, none on biases and 1-D parameters, as the CSL
recipe's parameter groups).
Schedules (``Recipe.schedule``): ``onecycle``, ``OneCycleLR(max_lr=lr, pct_start)`` stepped after
every batch for ``epochs``; ``plateau``, a constant lr dropped 10x on training-loss plateaus and
stopped by ``bench.training.convergence`` (loss converged, or ``early_stopping`` epochs after the
best monitored mAP(C); ``epochs`` caps it). Batches are drawn by a ``torch.Generator`` seeded with
``seed`` (``split_seed`` only decides the data split), so a run on CPU is deterministic; an epoch is
one pass, or ``epoch_steps`` steps of a continuing pass on large data (``bench.training.batches``). Every
batch's labels come from the run's ``LabelStore`` (which a method may update);
``TrainState.indices`` are row positions in that store, i.e. in the run's training rows;
``TrainState.step`` counts batches from 0 over a candidate's run, ``state.extra["lr"]`` is the
learning rate of the current step and ``state.extra["candidate"]`` the candidate's grid position.

Model selection: with a monitored split, its mAP(C) (partial evaluator, 0-100) is computed after
every epoch; ``select_best`` keeps the weights of the best epoch (earliest on ties) of the best
(lr, weight_decay) candidate of ``Recipe.candidates()`` (first in grid order on ties; each trains
from the same seed on its own copy of the method and label store), and ``selection`` records the
chosen lr and weight decay, and with a grid every candidate (``candidates``: value, best epoch,
epochs, steps, why it stopped, seconds). With more training rows than ``grid_max_rows`` (> 0) the
grid is skipped: ``lr`` / ``weight_decay`` alone train and ``selection["grid_skipped"]`` says why.
Without ``select_best`` only the recipe's ``lr`` and ``weight_decay`` train and the last epoch's
weights are kept. The caller decides which split is
monitored; the test split is never monitored unless asked for explicitly.

The divergence warning, the checked loss, Adam and the monitored mAP(C) are ``bench.training.steps``'s.
"""
from __future__ import annotations

import copy
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from bench.plugins.method import LabelStore, Method, TrainState
from bench.runs.recipe import Recipe
from bench.runs.tracking import current_tracker
from bench.training.adam import PlainAdam
from bench.training.batches import EpochBatches
from bench.training.candidates import Candidate, choose, selection_record
from bench.training.convergence import DROP, LR_DROP_FACTOR, STOP, Plateau
from bench.training.steps import (
    Monitor,
    StepObserver,
    TrainingError,
    TrainingWarning,
    adam_with_l2,
    checked_loss,
    divergence_warning,
    method_table,
    monitored_map,
)


@dataclass
class TrainResult:
    """The selected model and what the training did."""

    model: nn.Module
    selection: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    epochs: int = 0
    steps: int = 0
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    samples_per_s: float = 0.0


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.fields[candidate]}  epoch {task.fields[epoch]}"),
        BarColumn(),
        TextColumn("loss {task.fields[loss]:.4g}  val mAP {task.fields[val]}  {task.fields[speed]:.0f} samples/s"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=True,
    )


@dataclass
class _Loop:
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
class _Setup:
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


def _fit(setup: _Setup, index: int, lr: float, weight_decay: float, method: Method,
         label_store: LabelStore) -> Candidate:
    """Train one candidate from ``torch.manual_seed(seed)`` (same initial weights and batch order for
    every candidate); its best epoch is kept when the run selects on the monitor."""
    recipe, features, monitor = setup.recipe, setup.features, setup.monitor
    n_rows, device = features.shape[0], features.device
    torch.manual_seed(setup.seed)
    model = setup.build().to(device)
    epochs_of = EpochBatches(n_rows, recipe.batch_size, torch.Generator().manual_seed(setup.seed), recipe.epoch_steps)
    steps_per_epoch = epochs_of.steps
    optimizer = adam_with_l2(model, lr, weight_decay, plain=recipe.schedule != "onecycle")
    max_lr: float | list[float] = lr
    table = method_table(method, label_store, setup.seed, device)
    if table is not None:
        optimizer.add_param_group({"params": [table], "lr": lr * method.trainable_lr_mult(), "weight_decay": 0.0})
        max_lr = [group["lr"] for group in optimizer.param_groups]
    schedule = None
    if recipe.schedule == "onecycle":
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, epochs=recipe.epochs,
                                                       steps_per_epoch=steps_per_epoch, pct_start=recipe.pct_start)
    state = TrainState(artifacts=dict(setup.artifacts), label_store=label_store, num_classes=label_store.num_classes,
                       num_epochs=recipe.epochs, steps_per_epoch=steps_per_epoch, extra={"candidate": index})
    prefix = setup.track_as + (f"candidate{index}/" if setup.grid_size > 1 else "")
    loop = _Loop(model, method, optimizer, schedule, features, state, setup.observers, table=table, prefix=prefix)
    fit = Candidate(index, lr, weight_decay, model, method, label_store)
    selecting = setup.select_best and monitor is not None
    rule = Plateau(recipe.patience, recipe.lr_drops)
    bar = setup.bar
    task = bar.add_task("train", total=recipe.epochs * steps_per_epoch, epoch=f"1/{recipe.epochs}",
                        loss=float("nan"), val="-", speed=0.0, candidate=f"lr {lr:g} wd {weight_decay:g}")
    for epoch in range(1, recipe.epochs + 1):
        started = time.perf_counter()
        state.epoch = epoch
        batches = epochs_of.next_epoch()
        loss = loop.epoch(batches, lambda value: bar.update(task, advance=1, loss=value))
        fit.samples += sum(len(rows) for rows in batches)
        seconds = time.perf_counter() - started
        fit.train_seconds += seconds
        record = {"epoch": epoch, "loss": loss, "seconds": seconds}
        if loop.first_step_loss is not None and not any("first_step_loss" in h for h in fit.history):
            record["first_step_loss"] = loop.first_step_loss
        if fit.loss_warning is None:
            fit.loss_warning = divergence_warning(epoch, loss, loop.first_step_loss, lr)
            if fit.loss_warning is not None:
                record["loss_warning"] = fit.loss_warning
        if monitor is not None:
            eval_started = time.perf_counter()
            record[f"{monitor.name}_map_c"] = value = monitored_map(model, monitor)
            fit.eval_seconds += time.perf_counter() - eval_started
            if setup.select_best and value > fit.best[0]:
                fit.best = (value, epoch, copy.deepcopy(model.state_dict()))
            bar.update(task, val=f"{value:.2f}")
        epoch_values = {"loss": loss, "lr": state.extra.get("lr", optimizer.param_groups[0]["lr"])}
        if monitor is not None:
            epoch_values[f"{monitor.name}_map_c"] = record[f"{monitor.name}_map_c"]
        current_tracker().log_metrics(epoch_values, epoch, "epoch", prefix)
        fit.history.append(record)
        fit.epochs, fit.steps = epoch, state.step
        bar.update(task, epoch=f"{epoch}/{recipe.epochs}", speed=sum(map(len, batches)) / max(seconds, 1e-9))
        if recipe.schedule == "plateau":
            signal = rule.update(loss)
            if signal == STOP:
                fit.stopped = "plateau"
                break
            if selecting and recipe.early_stopping and epoch - fit.best[1] >= recipe.early_stopping:
                fit.stopped = "validation"
                break
            if signal == DROP:
                for group in optimizer.param_groups:
                    group["lr"] *= LR_DROP_FACTOR
                record["lr_drop"] = optimizer.param_groups[0]["lr"]
    return fit


def train(
    build: Callable[[], nn.Module],
    method: Method,
    *,
    features: torch.Tensor,
    label_store: LabelStore,
    recipe: Recipe,
    seed: int,
    artifacts: dict[str, Any] | None = None,
    monitor: Monitor | None = None,
    select_best: bool = True,
    progress: bool | None = None,
    step_observers: tuple[StepObserver, ...] = (),
    track_as: str = "",
) -> TrainResult:
    """Train ``build()`` on ``features`` (rows aligned with ``label_store``) and select a model.

    With ``select_best`` every (lr, weight_decay) of ``recipe.candidates()`` trains from the same
    seed, each on its own copy of ``method`` and ``label_store``; the candidate with the best
    monitored mAP(C) (the first in grid order on ties) gives the model, and at the end ``label_store``
    holds that candidate's labels and ``method`` its attributes (e.g. what ``run_diagnostics``
    reports). Without it only ``recipe.lr`` / ``recipe.weight_decay`` train.
    ``progress=None`` shows the rich progress bar only when stderr is a terminal.
    ``step_observers`` are called after every step of every candidate with the batch's detached
    logits and the state (``state.extra["candidate"]``: the candidate's position in the grid).
    Per step and per epoch, loss, lr and the monitored mAP(C) go to the run's tracker
    (``bench.runs.tracking``) under the prefix ``track_as`` (plus ``candidate<i>/`` with several
    candidates).
    """
    if select_best and monitor is None:
        raise TrainingError("model selection on a split needs a monitored split (got none)")
    rows = features.shape[0]
    grid_skipped = bool(select_best and recipe.grid_max_rows and rows > recipe.grid_max_rows
                        and len(recipe.candidates()) > 1)
    grid = recipe.candidates() if select_best and not grid_skipped else [(recipe.lr, recipe.weight_decay)]
    show = sys.stderr.isatty() if progress is None else progress
    device = features.device
    fits: list[Candidate] = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), _progress(show) as bar:
        setup = _Setup(build, features, recipe, seed, dict(artifacts or {}), monitor, select_best, step_observers, bar,
                       len(grid), track_as)
        for index, (lr, weight_decay) in enumerate(grid):
            alone = len(grid) == 1
            fits.append(_fit(setup, index, lr, weight_decay, method if alone else copy.deepcopy(method),
                             label_store if alone else copy.deepcopy(label_store)))
    chosen = choose(fits, select_best)
    if chosen is None:
        raise TrainingError(
            f"model selection on '{monitor.name}': no epoch had a finite mAP(C) (no class of that split "
            "has both a positive and a negative annotation); select on 'last' or use a larger split"
        )
    if chosen.label_store is not label_store:  # the caller's objects end as the chosen candidate's
        label_store.load_state_dict(chosen.label_store.state_dict())
        vars(method).update(vars(chosen.method))
    if chosen.loss_warning is not None:
        warnings.warn(chosen.loss_warning, TrainingWarning, stacklevel=2)
    selection = selection_record(chosen, fits, monitor.name if select_best else None, recipe.schedule)
    if grid_skipped:
        selection["grid_skipped"] = (f"{rows} training rows > grid_max_rows {recipe.grid_max_rows}: only lr "
                                     f"{recipe.lr:g}, weight decay {recipe.weight_decay:g} trained")
    result = TrainResult(model=chosen.model, selection=selection, history=chosen.history, epochs=chosen.epochs,
                         steps=chosen.steps)
    result.train_seconds = sum(f.train_seconds for f in fits)
    result.eval_seconds = sum(f.eval_seconds for f in fits)
    result.samples_per_s = sum(f.samples for f in fits) / max(result.train_seconds, 1e-9)
    return result
