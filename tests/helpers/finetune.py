"""A tiny finetune setup on coco-mini (a 4-channel conv net on ``rows`` images) and an interrupted
run resumed from its checkpoint: what the loop, AMP and trainable-state tests share."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
import torch
from torch import nn

from bench.plugins.method import LabelStore, Method
from bench.plugins.registry import DATASETS
from bench.runs.recipe import ImageRecipe
from bench.training.checkpoint import RunCheckpoints
from bench.training.finetune.loop import fit
from bench.training.finetune.setup import FitResult, FitSetup
from bench.training.images import BadImages, ImageRows, image_transform
from bench.training.images.inference import Precision
from bench.training.tensors import label_tensor


class Interrupt(Exception):
    """Raised by a step observer to stop a run mid-epoch, as a Ctrl-C would."""


def tiny_setup(recipe: ImageRecipe, method: Method, rows: int, size: int, precision: Precision | None = None,
               checkpoints: Path | None = None, resume: bool = False) -> FitSetup:
    """A ``FitSetup`` of ``method`` on the first ``rows`` coco-mini training images at ``size`` px,
    its model built under seed 0; checkpoints in ``checkpoints`` when given."""
    data = DATASETS.get("coco-mini")().load()
    paths = data.train.images[:rows]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=4), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, data.num_classes))
    extra = {} if checkpoints is None else {"checkpoints": RunCheckpoints(checkpoints, "f" * 64), "resume": resume}
    return FitSetup(
        model=model, method=method, recipe=recipe, seed=0,
        label_store=LabelStore(label_tensor(data.train.labels[:rows])),
        train_rows=ImageRows(paths, image_transform(size, train=True), size),
        train_bad=BadImages("train", paths), device=torch.device("cpu"), precision=precision or Precision(),
        workers=0, **extra,
    )


def interrupted_then_resumed(make: Callable[[bool], FitSetup], epoch: int = 2) -> FitResult:
    """Fit ``make(False)`` until the first step of ``epoch`` stops it, then ``make(True)`` (resume)
    to the end; returns the resumed result."""
    cut = make(False)

    def stop(logits: torch.Tensor, state) -> None:
        if state.epoch == epoch:
            raise Interrupt

    cut.step_observers = (stop,)
    with pytest.raises(Interrupt):
        fit(cut, select_best=False)
    return fit(make(True), select_best=False)
