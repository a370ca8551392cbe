"""The training loop of feature heads: Adam, one-cycle or trained to convergence, seeded, with model
selection over an lr / weight-decay grid.

``train`` fits a model built under ``torch.manual_seed(seed)`` with Adam (``bench.training.adam``;
coupled L2 weight decay on weight matrices only, none on biases and 1-D parameters, as the CSL
recipe's parameter groups). Schedules (``Recipe.schedule``): ``onecycle``, ``OneCycleLR(max_lr=lr,
pct_start)`` stepped after every batch for ``epochs``; ``plateau``, a constant lr dropped 10x on
training-loss plateaus and stopped by ``bench.training.convergence`` (loss converged, or
``early_stopping`` epochs after the best monitored mAP(C); ``epochs`` caps it). Batches are drawn
by a ``torch.Generator`` seeded with ``seed`` (``split_seed`` only decides the data split), so a
run on CPU is deterministic; an epoch is one pass, or ``epoch_steps`` steps of a continuing pass
on large data (``bench.training.batches``). Every batch's labels come from the run's
``LabelStore`` (which a method may update); ``TrainState.indices`` are row positions in that
store, i.e. in the run's training rows; ``TrainState.step`` counts batches from 0 over a
candidate's run, ``state.extra["lr"]`` is the learning rate of the current step and
``state.extra["candidate"]`` the candidate's grid position.

Model selection: with a monitored split, its mAP(C) (partial evaluator, 0-100) is computed after
every epoch; ``select_best`` keeps the weights of the best epoch (earliest on ties) of the best
(lr, weight_decay) candidate of ``Recipe.candidates()`` (first in grid order on ties; each trains
from the same seed on its own copy of the method and label store), and ``selection`` records the
chosen lr and weight decay, and with a grid every candidate (``candidates``: value, best epoch,
epochs, steps, why it stopped, seconds). Without ``select_best`` only the recipe's ``lr`` and
``weight_decay`` train and the last epoch's weights are kept. The caller decides which split is
monitored; the test split is never monitored unless asked for explicitly.

Large data: with more training rows than ``Recipe.grid_screen_rows`` (> 0) the grid is screened.
Every candidate trains one epoch (``epoch_steps`` steps), then only the one with the best monitored
mAP(C) trains on, from where it stopped; the others end with ``stopped: "screened"`` and
``selection["grid_screened"]`` says so. The divergence warning is ``bench.training.steps``'s.

The pieces: ``bench.training.candidate_run`` (one candidate, epoch by epoch),
``bench.training.steps`` (the checked loss, the divergence warning, Adam, the monitored mAP(C)),
``bench.training.candidates`` (the records and the choice).
"""
from __future__ import annotations

import copy
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from bench.plugins.method import LabelStore, Method
from bench.runs.recipe import Recipe
from bench.training.candidate_run import CandidateRun, Setup
from bench.training.candidates import Candidate, choose, leader, selection_record
from bench.training.steps import Monitor, StepObserver, TrainingError, TrainingWarning


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


def _train_grid(setup: Setup, grid: list[tuple[float, float]], method: Method, label_store: LabelStore,
                screen: bool) -> list[Candidate]:
    """Every candidate of ``grid`` in turn, each on its own copies of ``method`` and ``label_store``
    (the objects themselves when the grid has one); with ``screen``, every candidate one epoch, then
    the leader on validation to its end."""
    alone = len(grid) == 1

    def start(index: int, lr: float, weight_decay: float) -> CandidateRun:
        return CandidateRun(setup, index, lr, weight_decay, method if alone else copy.deepcopy(method),
                            label_store if alone else copy.deepcopy(label_store))

    if not screen:
        return [start(index, lr, wd).train() for index, (lr, wd) in enumerate(grid)]
    runs = [start(index, lr, wd) for index, (lr, wd) in enumerate(grid)]
    for run in runs:
        run.train_epoch()
    best = leader([run.fit for run in runs])  # None: no finite value, ``train`` fails without more epochs
    for run in runs:
        if run.fit is best:
            run.train()
        elif best is not None and not run.done:
            run.fit.stopped = "screened"
    return [run.fit for run in runs]


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
    grid = recipe.candidates() if select_best else [(recipe.lr, recipe.weight_decay)]
    screen = bool(recipe.grid_screen_rows and rows > recipe.grid_screen_rows and len(grid) > 1)
    show = sys.stderr.isatty() if progress is None else progress
    device = features.device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), _progress(show) as bar:
        setup = Setup(build, features, recipe, seed, dict(artifacts or {}), monitor, select_best, step_observers, bar,
                      len(grid), track_as)
        fits = _train_grid(setup, grid, method, label_store, screen)
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
    if any(f.stopped == "screened" for f in fits):
        selection["grid_screened"] = (f"{rows} training rows > grid_screen_rows {recipe.grid_screen_rows}: every "
                                      f"candidate trained 1 epoch ({min(f.steps for f in fits)} steps), the best "
                                      f"on {monitor.name} trained on")
    result = TrainResult(model=chosen.model, selection=selection, history=chosen.history, epochs=chosen.epochs,
                         steps=chosen.steps)
    result.train_seconds = sum(f.train_seconds for f in fits)
    result.eval_seconds = sum(f.eval_seconds for f in fits)
    result.samples_per_s = sum(f.samples for f in fits) / max(result.train_seconds, 1e-9)
    return result
