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

Declared attributes and optional hooks, each with its default here:

* ``requires`` (``{}``): artifacts the method needs, name -> spec (``bench.PriorSpec`` for
  ``class_prior``, naming the temporary method); ``required_artifacts()`` returns them per
  instance (default: ``requires``);
* ``mutates_labels`` (False): whether the method rewrites the run's label store (e.g. LL-Cp);
* ``ignored_mask(logits, labels, state)`` (None: the method declares none): the entries whose
  gradient is exactly zero, which the conformance suite checks;
* ``compatible(mode, dataset, processes=1)`` (None: compatible): a reason this method cannot train
  in a mode on a dataset class, e.g. a method that rewrites labels under multi-process training;
* ``on_epoch_start(state)`` / ``on_step_end(state)``: called by the trainer (no-ops here);
* ``start_run()`` / ``run_diagnostics()`` / ``run_notes()`` (no-op, ``{}``, ``[]``): what a method
  says about one run. The runner calls ``start_run()`` before the run's mode trains (the same
  instance may train several runs of a sweep, so per-run statistics are reset there; the temporary
  model of an artifact is another instance) and, after it, merges ``run_diagnostics()`` (name -> a
  dict of figures with a one-line ``"summary"``) into the record's ``extra["diagnostics"]`` and
  ``run_notes()`` (one-line warnings a reader must see beside the result) into ``extra["notes"]``,
  each note also emitted once as a ``RunNoteWarning``;
* ``gathers_global_batch()`` (False): True when ``loss`` takes part in collectives over the global
  batch under multi-process training (``bench.plugins.batch``); every process then calls ``loss``
  at every step, with an empty batch when none of its images could be read;
* ``official_script`` (None) and the classmethod ``from_official_args(argv)``: a method that
  reproduces an official script translates its arguments (``bench.plugins.official``).

A method states its official reduction as the default of its ``reduction`` parameter.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import torch

from bench.core.params import Param, Parameterised
from bench.labels.store import LabelStore  # noqa: F401  (re-exported: the method contract's label store)
from bench.plugins.official import OfficialArgsError, OfficialRun


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
    plugin_type: ClassVar[str] = "method"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    parameters: ClassVar[dict[str, Param]] = {}
    requires: ClassVar[Mapping[str, Any]] = {}
    mutates_labels: ClassVar[bool] = False
    is_default: ClassVar[bool] = False
    official_script: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not isinstance(cls.requires, Mapping):
            raise TypeError(f"{cls.__qualname__}.requires must map artifact names to their specs, e.g. "
                            "{'class_prior': PriorSpec(method='ignore')}")
        loss = cls.__dict__.get("loss")
        if loss is not None and not getattr(loss, "__float32_guarded__", False):
            cls.loss = _float32_loss(loss)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> torch.Tensor:
        raise NotImplementedError

    def required_artifacts(self) -> dict[str, Any]:
        """Artifact name -> spec for this instance (default: the class's ``requires``)."""
        return dict(type(self).requires)

    def ignored_mask(self, logits: torch.Tensor, labels: torch.Tensor,
                     state: TrainState | None = None) -> torch.Tensor | None:
        """Bool (B, C) mask of the entries whose gradient is exactly zero; None declares none."""
        return None

    def compatible(self, mode: str, dataset: type, processes: int = 1) -> str | None:
        """None when this method can train in ``mode`` on a ``dataset`` class with ``processes``
        processes, else the reason it cannot (the default refuses only label-rewriting methods
        under multi-process training, where each process would rewrite its own copy)."""
        if self.mutates_labels and processes > 1:
            return "it changes training labels, so it runs in one process only"
        return None

    @classmethod
    def from_official_args(cls, argv: str) -> OfficialRun:
        """The bench run of ``official_script``'s arguments ``argv`` (only where it is declared)."""
        raise OfficialArgsError(f"method '{cls.name}' translates no official arguments")

    def gathers_global_batch(self) -> bool:
        """True when ``loss`` is a collective under multi-process training (see the module docstring)."""
        return False

    def start_run(self) -> None:
        """Reset what ``run_diagnostics`` and ``run_notes`` report: a new run starts training."""

    def run_diagnostics(self) -> dict[str, dict[str, Any]]:
        """Name -> figures (floats, ints, a one-line ``"summary"``) about the run since ``start_run``."""
        return {}

    def run_notes(self) -> list[str]:
        """One-line warnings about the run since ``start_run`` that a reader must see beside its result."""
        return []

    trainable_state_key: ClassVar[str | None] = None

    def trainable_state(self, train_labels: torch.Tensor,
                        generator: torch.Generator | None = None) -> torch.nn.Parameter | None:
        """A table of trainable per-(training row, class) values the method owns (None: none). The
        trainer optimises it with the model at lr x ``trainable_lr_mult()``, puts the batch rows in
        ``state.extra[trainable_state_key]`` before ``loss`` and checkpoints it."""
        return None

    def trainable_lr_mult(self) -> float:
        """The learning-rate multiplier of ``trainable_state`` (default 1)."""
        return float(self.params.get("lr_mult", 1.0))

    def on_epoch_start(self, state: TrainState) -> None:
        """Called before the first step of every epoch (``state.epoch`` is 1-based)."""

    def on_step_end(self, state: TrainState) -> None:
        """Called after every optimiser step."""
