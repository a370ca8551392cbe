"""The (lr, weight_decay) candidates of one feature-head training (``bench.training.trainer``):
what each one did, which one is chosen, and the run's ``selection`` record.

The chosen candidate is the one with the best monitored mAP(C) at its best epoch (the first in grid
order on ties). ``selection`` holds the policy, the chosen epoch, metric and value, the chosen lr and
weight decay, the schedule, why the chosen candidate stopped (``budget``: ``epochs`` reached;
``plateau``: the training loss converged; ``validation``: early stopping; ``screened``: it lost the
screening of a large-data grid after one epoch), and with a grid the
chosen position (``candidate``) and every candidate's line (``candidates``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from bench.plugins.method import LabelStore, Method


@dataclass
class Candidate:
    """One (lr, weight_decay) candidate trained: its best epoch on the monitor, what it cost."""

    index: int
    lr: float
    weight_decay: float
    model: nn.Module
    method: Method
    label_store: LabelStore
    history: list[dict[str, float]] = field(default_factory=list)
    best: tuple[float, int, dict | None] = (-math.inf, 0, None)
    epochs: int = 0
    steps: int = 0
    samples: int = 0
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    stopped: str = "budget"
    loss_warning: str | None = None

    def summary(self) -> dict[str, Any]:
        """The candidate's line in ``selection["candidates"]``."""
        value = self.best[0] if self.best[2] is not None else None
        out = {"lr": self.lr, "weight_decay": self.weight_decay, "value": value, "epoch": self.best[1],
               "epochs": self.epochs, "steps": self.steps, "stopped": self.stopped,
               "seconds": self.train_seconds + self.eval_seconds}
        return out if self.loss_warning is None else {**out, "loss_warning": self.loss_warning}



def leader(fits: list[Candidate]) -> Candidate | None:
    """The candidate with the best monitored mAP(C) so far (the first in grid order on ties); None
    when none had a finite one."""
    scored = [f for f in fits if f.best[2] is not None]
    return max(scored, key=lambda f: (f.best[0], -f.index)) if scored else None


def choose(fits: list[Candidate], select_best: bool) -> Candidate | None:
    """The selected candidate with its best epoch's weights loaded (the only one without
    selection); None when no candidate had a finite monitored mAP(C)."""
    if not select_best:
        return fits[0]
    chosen = leader(fits)
    if chosen is not None:
        chosen.model.load_state_dict(chosen.best[2])
    return chosen


def selection_record(chosen: Candidate, fits: list[Candidate], policy: str | None, schedule: str) -> dict[str, Any]:
    """What was selected: policy, epoch, metric value, the chosen lr / weight_decay and, with a
    grid, every candidate's line."""
    if policy is not None:
        selection: dict[str, Any] = {"policy": policy, "epoch": chosen.best[1], "metric": "map_c",
                                     "value": chosen.best[0]}
    else:
        selection = {"policy": "last", "epoch": chosen.epochs}
    selection.update(lr=chosen.lr, weight_decay=chosen.weight_decay, schedule=schedule,
                     stopped=chosen.stopped)
    if len(fits) > 1:
        selection.update(candidate=chosen.index, candidates=[f.summary() for f in fits])
    if chosen.loss_warning is not None:
        selection["loss_warning"] = chosen.loss_warning
    return selection
