"""Large Loss Matters (Kim et al., CVPR 2022): ``ll-r`` (reject), ``ll-ct`` (temporary correction),
``ll-cp`` (permanent correction). Semantics of the official code (docs/methods.md §2):

    L_ij = BCE(z_ij, [y_ij == 1])           un-annotated entries as negatives
    clean_rate(e) = 1 - delta_rel - ... - delta_rel   (e - 1 float subtractions, as the official code)
    epoch 1 (clean_rate == 1): plain L;  otherwise
    k = ceil(B*C*(1 - clean_rate))  (ll-r, ll-ct)   or   ceil(B*C*delta_rel)  (ll-cp, constant)
    tau = k-th largest of [y == 0] * L over the flattened batch (annotated entries count 0)
    entries with [y == 0] * L >= tau: loss 0 (ll-r) or BCE(z, 1) (ll-ct, ll-cp)
    ll-cp also flips the entries with [y == 0] * L > tau (strict) to positive in the run's label
    store after the optimiser step (``on_step_end``), permanently.

Reduction: mean over all B*C entries (official), rejected entries included as zeros.
Under DDP, B, k and tau are those of the global batch, as in the official single-process code:
each process sends its k largest candidate losses (``bench.plugins.batch``) and keeps the loss on
its own entries; DDP's gradient average then equals the single-process gradient.
``delta_rel`` is a fraction per epoch, in [0, 1] (checked when the selector is resolved): the
official CLI's ``--delta_rel 0.2`` is 0.002. Defaults
are the maintainer's COCO values (LargeLossMatters issue #4): LL-R 0.4%, LL-Ct 0.2%, LL-Cp 0.2%.

Guard: with k larger than the number of un-annotated entries the official tau is 0 and every entry,
annotated ones included, is rejected or corrected. We cap k at the number of un-annotated entries
and only ever touch un-annotated entries, unless ``official_compat=True``, which reproduces that
behaviour and the released bug that runs LL-Cp exactly as LL-Ct (``is``-comparison of the scheme
string: k follows clean_rate and no label is flipped).
"""
from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from bench import (
    POS,
    BatchWorld,
    Method,
    Param,
    TrainState,
    batch_world,
    global_kth_largest,
    global_sum,
    register_method,
)


def official_clean_rate(epoch: int, delta_rel: float) -> float:
    """clean_rate during ``epoch`` (1-based): 1 minus delta_rel once after each finished epoch."""
    clean_rate = 1.0
    for _ in range(epoch - 1):
        clean_rate -= delta_rel
    return clean_rate


class LargeLoss(Method):
    """Shared LL-R / LL-Ct / LL-Cp computation; subclasses set ``scheme``."""

    scheme = "LL-R"
    parameters = {
        "delta_rel": Param(0.002, min=0.0, max=1.0,
                           help="clean_rate decrease per epoch, a fraction in [0, 1] (official CLI value / 100)"),
        "official_compat": Param(False, help="reproduce the released code: unguarded k, LL-Cp run as LL-Ct"),
        "reduction": Param("mean", choices=("mean", "sum"), help="mean over B*C (official) or sum"),
    }

    def __init__(self, **params):
        super().__init__(**params)
        self.pending_flips: tuple[torch.Tensor, torch.Tensor] | None = None

    def _effective_scheme(self) -> str:
        return "LL-Ct" if self.scheme == "LL-Cp" and self.official_compat else self.scheme

    def gathers_global_batch(self) -> bool:
        """k and tau span the global batch under DDP, so ``loss`` is a collective there."""
        return True

    def large_loss_mask(self, loss_matrix: torch.Tensor, labels: torch.Tensor, epoch: int,
                        in_training: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(entries rejected or corrected, entries LL-Cp flips) for this batch; no gradient.
        ``in_training``: the trainer's step, where k and tau are those of the global batch under DDP
        (``bench.plugins.batch``; the batch alone otherwise)."""
        none = torch.zeros_like(labels, dtype=torch.bool)
        clean_rate = official_clean_rate(epoch, self.delta_rel)
        if clean_rate == 1:
            return none, none
        unannotated = labels == 0
        world = batch_world(labels.shape[0], labels.device) if in_training else BatchWorld(0, 1, (labels.shape[0],))
        fraction = self.delta_rel if self._effective_scheme() == "LL-Cp" else 1 - clean_rate
        k = math.ceil(world.total_rows * labels.shape[1] * fraction)
        if not self.official_compat:
            k = min(k, int(global_sum(unannotated.sum())) if in_training else int(unannotated.sum()))
        if k <= 0:
            return none, none
        candidates = (unannotated * loss_matrix).detach()
        tau = global_kth_largest(candidates, k, world)
        selected, flipped = candidates >= tau, candidates > tau
        if not self.official_compat:
            selected, flipped = selected & unannotated, flipped & unannotated
        return selected, flipped if self._effective_scheme() == "LL-Cp" else none

    def _masks(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None, in_training: bool = False):
        target = (labels == POS).float()
        loss_matrix = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        selected, flipped = self.large_loss_mask(loss_matrix, labels, 1 if state is None else state.epoch, in_training)
        return target, loss_matrix, selected, flipped

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> torch.Tensor:
        target, loss_matrix, selected, flipped = self._masks(logits, labels, state, in_training=True)
        if self._effective_scheme() == "LL-R":
            final = loss_matrix.masked_fill(selected, 0.0)
        else:
            corrected = F.binary_cross_entropy_with_logits(logits, 1 - target, reduction="none")
            final = torch.where(selected, corrected, loss_matrix)
        self.pending_flips = tuple(flipped.nonzero().unbind(1)) if flipped.any() else None
        total = final.sum()
        return total / logits.numel() if self.reduction == "mean" else total

    def ignored_mask(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> torch.Tensor:
        """LL-R's rejected entries of this batch alone (exactly zero gradient); nothing for the
        correcting schemes."""
        _, _, selected, _ = self._masks(logits.detach().float(), labels, state)
        return selected if self._effective_scheme() == "LL-R" else torch.zeros_like(selected)

    def on_step_end(self, state: TrainState) -> None:
        """LL-Cp: write the last batch's flips (strictly above tau) to the run's label store."""
        if self.pending_flips is None:
            return
        if state.label_store is None or state.indices is None:
            raise ValueError(f"method '{self.name}' needs state.label_store and state.indices "
                             "to record its label flips")
        rows, cols = self.pending_flips
        state.label_store.set(state.indices.to(rows.device)[rows], cols, POS)
        self.pending_flips = None


@register_method("ll-r")
class LargeLossReject(LargeLoss):
    """LL-R: reject (zero) the largest un-annotated losses."""

    description = "Large Loss Matters, rejection (LL-R)"
    scheme = "LL-R"
    parameters = {**LargeLoss.parameters,
                  "delta_rel": dataclasses.replace(LargeLoss.parameters["delta_rel"], default=0.004)}


@register_method("ll-ct")
class LargeLossCorrectTemporary(LargeLoss):
    """LL-Ct: train the largest un-annotated losses as positives, for this step only."""

    description = "Large Loss Matters, temporary correction (LL-Ct)"
    scheme = "LL-Ct"


@register_method("ll-cp")
class LargeLossCorrectPermanent(LargeLoss):
    """LL-Cp: correct a constant number per batch and flip them to positive permanently."""

    description = "Large Loss Matters, permanent correction (LL-Cp)"
    scheme = "LL-Cp"
    mutates_labels = True
