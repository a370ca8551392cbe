"""What every training step of the engine needs, shared by the feature-head trainer and the
finetune loop: the checked loss, the divergence warning, Adam with coupled L2, the method's
trainable table and the monitored split's mAP(C).

Divergence warning (``divergence_warning``): the loss of the first step with a positive loss (the
untrained model's; ``first_step_loss`` in the history record of the epoch it belongs to) is the
reference, and the first epoch whose mean loss exceeds ``DIVERGENCE_FACTOR`` (5) times it records
its text as ``loss_warning`` in that epoch's history record; the chosen candidate's warning is
emitted once as a ``TrainingWarning`` and recorded in the selection. Not the first epoch's mean:
at ``--lr 1e6`` on scene the loss is already about 10 times the untrained model's during epoch 1
and then falls (a clamped or saturated loss cannot rise by orders of magnitude), whereas ordinary
runs stay below about 2.3 times it (measured on scene over the shipped methods, protocols, heads
and batch sizes).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from bench.core.errors import RunError
from bench.labels.encoding import LabelMatrix, to_dense
from bench.metrics import evaluate
from bench.plugins.method import LabelStore, Method, TrainState
from bench.training.adam import PlainAdam
from bench.training.inference import split_scores

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


def monitored_map(model: nn.Module, monitor: Monitor) -> float:
    """mAP(C) of ``model`` on the monitored split with the partial evaluator (NaN if no class counts)."""
    scores, labels = split_scores(model, monitor.features, monitor.labels)
    return float(evaluate(scores, labels, evaluator="partial").map_c)


def adam_with_l2(model: nn.Module, lr: float, weight_decay: float, *,
                 plain: bool = False) -> torch.optim.Adam | PlainAdam:
    """Adam whose weight decay (coupled L2, as the CSL recipe's parameter groups) applies to
    parameters with > 1 dimension only: none on biases and other 1-D parameters. A
    ``torch.optim.Adam`` (what ``torch.optim.lr_scheduler`` and checkpoints need), or with ``plain``
    a ``PlainAdam``: bitwise the same arithmetic on the CPU without TorchDynamo's import."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return PlainAdam(groups, lr=lr) if plain else torch.optim.Adam(groups, lr=lr)


def method_table(method: Method, label_store: LabelStore, seed: int, device: torch.device) -> torch.Tensor | None:
    """The method's trainable table (``Method.trainable_state``) for the run's training labels, its
    initialisation drawn from a generator seeded with ``seed``; None when it owns none."""
    if method.trainable_state_key is None:
        return None
    labels = label_store.labels
    if not isinstance(labels, torch.Tensor):
        labels = torch.as_tensor(to_dense(labels))
    table = method.trainable_state(labels.cpu(), generator=torch.Generator().manual_seed(seed))
    return None if table is None else nn.Parameter(table.detach().to(device))


def checked_loss(method: Method, logits: torch.Tensor, labels: torch.Tensor, state: TrainState) -> torch.Tensor:
    """``method.loss``, or ``TrainingError`` when it is not a finite scalar (the run then fails with
    that reason)."""
    loss = method.loss(logits, labels, state)
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise TrainingError(f"method '{method.name}' returned a loss of shape {shape}; expected a scalar")
    value = float(loss.detach())  # one host read; a torch.isfinite kernel costs another op per step
    if not math.isfinite(value):
        raise TrainingError(f"method '{method.name}': loss is {value} at epoch {state.epoch}, step {state.step}")
    return loss
