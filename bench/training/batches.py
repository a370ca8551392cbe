"""The batches of each epoch of a feature-head training (``bench.training.trainer``).

``EpochBatches(rows, batch_size, generator, epoch_steps)`` hands out one epoch at a time as a tuple
of row-position tensors. An epoch is one pass, ``torch.randperm(rows, generator=generator)`` cut
into batches of ``batch_size`` (the last one shorter), unless ``epoch_steps`` is smaller than a
pass's ``ceil(rows / batch_size)`` batches: then an epoch is the next ``epoch_steps`` batches of
the current pass, and a pass that runs out inside an epoch is followed by a fresh permutation from
the same generator (``Recipe.epoch_steps``: on large data the loss rule and the monitor act every
``epoch_steps`` steps). Either way every row is visited once per pass and the draws come from
``generator`` only, so a seeded run is deterministic.
"""
from __future__ import annotations

import math

import torch


class EpochBatches:
    """Row positions batch by batch, one epoch per ``next_epoch`` call (see the module docstring)."""

    def __init__(self, rows: int, batch_size: int, generator: torch.Generator, epoch_steps: int = 0) -> None:
        self.rows, self.batch_size, self.generator = rows, batch_size, generator
        self.pass_steps = max(1, math.ceil(rows / batch_size))
        self.steps = min(self.pass_steps, epoch_steps) if epoch_steps > 0 else self.pass_steps
        self._pending: list[torch.Tensor] = []

    def _new_pass(self) -> list[torch.Tensor]:
        return list(torch.randperm(self.rows, generator=self.generator).split(self.batch_size))

    def next_epoch(self) -> tuple[torch.Tensor, ...]:
        """The next epoch's batches: ``steps`` of them (one pass when ``steps`` covers a pass)."""
        if self.steps == self.pass_steps:
            return tuple(self._new_pass())
        epoch: list[torch.Tensor] = []
        while len(epoch) < self.steps:
            if not self._pending:
                self._pending = self._new_pass()
            take = self.steps - len(epoch)
            epoch.extend(self._pending[:take])
            self._pending = self._pending[take:]
        return tuple(epoch)
