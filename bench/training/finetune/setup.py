"""What ``bench.training.finetune.loop.fit`` takes and gives: ``FitSetup`` (model, method, recipe,
data, device, precision, monitored split, checkpoints) and ``FitResult`` (the selected raw and EMA
weights, the selection, history, steps, time and images seen)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from bench.labels.encoding import LabelMatrix
from bench.plugins.method import LabelStore, Method, TrainState
from bench.runs.recipe import ImageRecipe
from bench.training.checkpoint import RunCheckpoints
from bench.training.images import BadImages, ImageRows
from bench.training.images.inference import Precision
from bench.training.steps import TrainingError


class FinetuneError(TrainingError):
    """Training cannot go on (a non-finite or non-scalar loss, an indivisible batch, ...)."""


@dataclass
class Monitored:
    """A split scored after every epoch: its images and partial labels (test labels only when asked)."""

    name: str
    rows: ImageRows
    labels: LabelMatrix
    bad: BadImages


@dataclass
class FitSetup:
    """Everything ``fit`` needs; ``model`` is built (seeded) and unwrapped, on the CPU or the device.
    ``step_observers`` are called after every step with the batch's detached logits and the state."""

    model: nn.Module
    method: Method
    recipe: ImageRecipe
    seed: int
    label_store: LabelStore
    train_rows: ImageRows
    train_bad: BadImages
    device: torch.device
    precision: Precision
    workers: int
    monitor: Monitored | None = None
    artifacts: dict[str, Any] = field(default_factory=dict)
    checkpoints: RunCheckpoints | None = None
    resume: bool = False
    progress: bool = False
    step_observers: tuple[Callable[[torch.Tensor, TrainState], None], ...] = ()


@dataclass
class FitResult:
    """The selected weights (raw and EMA) and what the training did."""

    raw_state: dict[str, torch.Tensor]
    ema_state: dict[str, torch.Tensor] | None
    selection: dict[str, Any]
    history: list[dict[str, Any]]
    steps: int
    train_seconds: float
    eval_seconds: float
    images_seen: int
    resumed_from_epoch: int | None
