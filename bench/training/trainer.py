"""The training loop of feature heads: Adam + one-cycle, seeded, with model selection.

``train`` fits a model built under ``torch.manual_seed(seed)`` with Adam (coupled L2 weight decay on
weight matrices only, none on biases and 1-D parameters, as the CSL recipe's parameter groups) and
``OneCycleLR(max_lr=lr, pct_start)`` stepped after every batch. Batches are drawn by a
``torch.Generator`` seeded with ``seed`` (``split_seed`` only decides the data split), so a run on CPU
is deterministic. Every batch's labels come from the run's ``LabelStore`` (which a method may
update); ``TrainState.indices`` are row positions in that store, i.e. in the run's training rows;
``TrainState.step`` counts batches from 0 over the whole run and ``state.extra["lr"]`` is the
learning rate of the current step.

Model selection: with a monitored split, its mAP(C) (partial evaluator, 0-100) is computed after
every epoch; ``select_best`` keeps the weights of the best epoch (earliest on ties), otherwise the
last epoch's weights are kept. The caller decides which split is monitored; the test split is never
monitored unless asked for explicitly.

Divergence warning (``divergence_warning``, shared with the finetune loop): the loss of the first step
with a positive loss (the untrained model's; ``first_step_loss`` in the history record of the epoch
it belongs to) is the reference, and the first epoch whose mean loss exceeds ``DIVERGENCE_FACTOR``
(5) times it emits one ``TrainingWarning`` and records its text as ``loss_warning`` in that epoch's
history record and in the selection. Not the first epoch's mean: at ``--lr 1e6`` on scene the loss
is already about 10 times the untrained model's during epoch 1 and then falls (a clamped or
saturated loss cannot rise by orders of magnitude), whereas ordinary runs stay below about 2.3
times it (measured on scene over the shipped methods, protocols, heads and batch sizes).
"""
from __future__ import annotations

import copy
import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from bench.core.errors import RunError
from bench.labels.encoding import LabelMatrix
from bench.metrics import evaluate
from bench.plugins.method import LabelStore, Method, TrainState
from bench.runs.recipe import Recipe
from bench.training.inference import predict

StepObserver = Callable[[torch.Tensor, TrainState], None]
DIVERGENCE_FACTOR = 5.0


class TrainingError(RunError):
    """Training cannot go on (a non-finite loss, a loss that is not a scalar, ...)."""


class TrainingWarning(UserWarning):
    """Training goes on but probably wrong (the loss rose far above the untrained model's)."""


def divergence_warning(epoch: int, loss: float, first_step_loss: float | None, lr: float) -> str | None:
    """The one-line warning when epoch ``epoch``'s mean loss exceeds ``DIVERGENCE_FACTOR`` times the
    first step's loss (see the module docstring), else None (also without a usable reference)."""
    if first_step_loss is None or not 0 < first_step_loss < math.inf or not loss > DIVERGENCE_FACTOR * first_step_loss:
        return None
    return (f"training loss rose: epoch {epoch} mean loss {loss:.4g} is {loss / first_step_loss:.3g} times the first "
            f"step's {first_step_loss:.4g} (warning above {DIVERGENCE_FACTOR:g}x); the run is probably diverging: "
            f"try a lower --lr (this run: {lr:g})")


@dataclass
class Monitor:
    """A split scored after every epoch: features (N, D) and partial labels (N, C)."""

    name: str
    features: torch.Tensor
    labels: LabelMatrix


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


def monitored_map(model: nn.Module, monitor: Monitor) -> float:
    """mAP(C) of ``model`` on the monitored split with the partial evaluator (NaN if no class counts)."""
    scores = predict(model, monitor.features).numpy()
    return float(evaluate(scores, monitor.labels, evaluator="partial").map_c)


def adam_with_l2(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Adam:
    """Adam whose weight decay (coupled L2, as the CSL recipe's parameter groups) applies to
    parameters with > 1 dimension only: none on biases and other 1-D parameters."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.Adam(groups, lr=lr)


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("epoch {task.fields[epoch]}"),
        BarColumn(),
        TextColumn("loss {task.fields[loss]:.4g}  val mAP {task.fields[val]}  {task.fields[speed]:.0f} samples/s"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=True,
    )


def checked_loss(method: Method, logits: torch.Tensor, labels: torch.Tensor, state: TrainState) -> torch.Tensor:
    """``method.loss``, or ``TrainingError`` when it is not a finite scalar (the run then fails with
    that reason)."""
    loss = method.loss(logits, labels, state)
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise TrainingError(f"method '{method.name}' returned a loss of shape {shape}; expected a scalar")
    if not torch.isfinite(loss.detach()):
        raise TrainingError(
            f"method '{method.name}': loss is {float(loss.detach())} at epoch {state.epoch}, step {state.step}"
        )
    return loss


@dataclass
class _Loop:
    """The pieces one epoch needs."""

    model: nn.Module
    method: Method
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    features: torch.Tensor
    state: TrainState
    observers: tuple[StepObserver, ...]
    first_step_loss: float | None = None

    def epoch(self, batches: tuple[torch.Tensor, ...], on_step: Callable[[float], None]) -> float:
        """One pass over ``batches`` (row positions); returns the mean batch loss."""
        self.model.train()
        self.method.on_epoch_start(self.state)
        total = 0.0
        for rows in batches:
            rows = rows.to(self.features.device)
            self.state.indices = rows
            self.state.extra["lr"] = self.optimizer.param_groups[0]["lr"]
            logits = self.model(self.features[rows])
            loss = checked_loss(self.method, logits, self.state.label_store.batch(rows), self.state)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.schedule.step()
            self.method.on_step_end(self.state)
            for observe in self.observers:
                observe(logits.detach(), self.state)
            value = float(loss.detach())
            if self.first_step_loss is None and value > 0:
                self.first_step_loss = value
            total += value
            self.state.step += 1
            on_step(value)
        return total / max(len(batches), 1)


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
) -> TrainResult:
    """Train ``build()`` on ``features`` (rows aligned with ``label_store``) and select a model.

    ``progress=None`` shows the rich progress bar only when stderr is a terminal.
    ``step_observers`` are called after every step with the batch's detached logits and the state.
    """
    if select_best and monitor is None:
        raise TrainingError("model selection on a split needs a monitored split (got none)")
    n_rows = features.shape[0]
    steps_per_epoch = max(1, math.ceil(n_rows / recipe.batch_size))
    show = sys.stderr.isatty() if progress is None else progress
    device = features.device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        model = build().to(device)
        generator = torch.Generator().manual_seed(seed)
        optimizer = adam_with_l2(model, recipe.lr, recipe.weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=recipe.lr, epochs=recipe.epochs, steps_per_epoch=steps_per_epoch,
            pct_start=recipe.pct_start,
        )
        state = TrainState(
            artifacts=dict(artifacts or {}), label_store=label_store, num_classes=label_store.num_classes,
            num_epochs=recipe.epochs, steps_per_epoch=steps_per_epoch,
        )
        loop = _Loop(model, method, optimizer, schedule, features, state, step_observers)
        result = TrainResult(model=model, selection={})
        best: tuple[float, int, dict | None] = (-math.inf, 0, None)
        loss_warning: str | None = None
        with _progress(show) as bar:
            task = bar.add_task("train", total=recipe.epochs * steps_per_epoch, epoch=f"1/{recipe.epochs}",
                                loss=float("nan"), val="-", speed=0.0)
            for epoch in range(1, recipe.epochs + 1):
                started = time.perf_counter()
                state.epoch = epoch
                batches = torch.randperm(n_rows, generator=generator).split(recipe.batch_size)
                loss = loop.epoch(batches, lambda value: bar.update(task, advance=1, loss=value))
                seconds = time.perf_counter() - started
                result.train_seconds += seconds
                record = {"epoch": epoch, "loss": loss, "seconds": seconds}
                if loop.first_step_loss is not None and not any("first_step_loss" in h for h in result.history):
                    record["first_step_loss"] = loop.first_step_loss
                if loss_warning is None:
                    loss_warning = divergence_warning(epoch, loss, loop.first_step_loss, recipe.lr)
                    if loss_warning is not None:
                        record["loss_warning"] = loss_warning
                        warnings.warn(loss_warning, TrainingWarning, stacklevel=2)
                if monitor is not None:
                    eval_started = time.perf_counter()
                    record[f"{monitor.name}_map_c"] = value = monitored_map(model, monitor)
                    result.eval_seconds += time.perf_counter() - eval_started
                    if select_best and value > best[0]:
                        best = (value, epoch, copy.deepcopy(model.state_dict()))
                    bar.update(task, val=f"{value:.2f}")
                result.history.append(record)
                bar.update(task, epoch=f"{epoch}/{recipe.epochs}", speed=n_rows / max(seconds, 1e-9))
    result.epochs, result.steps = recipe.epochs, state.step
    result.samples_per_s = n_rows * recipe.epochs / max(result.train_seconds, 1e-9)
    if select_best:
        if best[2] is None:
            raise TrainingError(
                f"model selection on '{monitor.name}': no epoch had a finite mAP(C) (no class of that split "
                "has both a positive and a negative annotation); select on 'last' or use a larger split"
            )
        model.load_state_dict(best[2])
        result.selection = {"policy": monitor.name, "epoch": best[1], "metric": "map_c", "value": best[0]}
    else:
        result.selection = {"policy": "last", "epoch": recipe.epochs}
    if loss_warning is not None:
        result.selection["loss_warning"] = loss_warning
    return result
