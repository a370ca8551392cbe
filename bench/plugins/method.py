"""The method contract.

A method is a class registered with ``@register_method("name")`` that declares its parameters and
implements ``loss(logits, labels, state)``:

* ``logits``: (B, C) float tensor; ``labels``: (B, C) int8 tensor in our encoding
  (1 positive, -1 annotated negative, 0 un-annotated);
* returns a differentiable scalar, **always computed in float32** (the base class disables autocast
  and casts the logits before calling the subclass's ``loss``);
* ``state`` (``TrainState``, optional for stateless methods) carries the epoch (1-based), the global
  step, the dataset indices of the batch's rows, declared artifacts (e.g. ``state.artifacts
  ["class_prior"]``) and the run's mutable ``LabelStore``.

Optional hooks ``on_epoch_start(state)`` and ``on_step_end(state)`` are called by the trainer.
A method states the artifacts it needs in ``requires`` (names, e.g. ``("class_prior",)``) and its
official reduction as the default of its ``reduction`` parameter.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from bench.labels.store import LabelStore  # noqa: F401  (re-exported: the method contract's label store)
from bench.core.params import Param, Parameterised


@dataclass
class TrainState:
    """What the trainer tells a method about the current step."""

    epoch: int = 1
    step: int = 0
    indices: torch.Tensor | None = None
    artifacts: dict[str, Any] = field(default_factory=dict)
    label_store: LabelStore | None = None
    num_classes: int | None = None
    num_epochs: int | None = None
    steps_per_epoch: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _float32_loss(fn):
    @functools.wraps(fn)
    def wrapper(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None):
        if labels.shape != logits.shape:
            raise ValueError(f"{self.name}: labels shape {tuple(labels.shape)} != logits shape {tuple(logits.shape)}")
        device_type = logits.device.type if logits.device.type in ("cuda", "cpu") else "cpu"
        with torch.autocast(device_type=device_type, enabled=False):
            return fn(self, logits.float(), labels, state)

    wrapper.__float32_guarded__ = True
    return wrapper


class Method(Parameterised):
    """Base class of every method plugin (see the module docstring for the contract)."""

    name: ClassVar[str] = "method"
    kind_label: ClassVar[str] = "method"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    parameters: ClassVar[dict[str, Param]] = {}
    requires: ClassVar[tuple[str, ...]] = ()
    mutates_labels: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        loss = cls.__dict__.get("loss")
        if loss is not None and not getattr(loss, "__float32_guarded__", False):
            cls.loss = _float32_loss(loss)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> torch.Tensor:
        raise NotImplementedError

    def on_epoch_start(self, state: TrainState) -> None:
        """Called before the first step of every epoch (``state.epoch`` is 1-based)."""

    def on_step_end(self, state: TrainState) -> None:
        """Called after every optimiser step."""
