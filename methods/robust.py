"""Hill and SPLC (Zhang et al., "Simple and Robust Loss Design for Multi-Label Learning with Missing
Labels", arXiv 2112.07368, 2021): ``hill`` and ``splc``.

Official code: xinyu1205/robust-loss-mlml, ``src/loss_functions/losses.py`` (classes ``Hill``,
``SPLC``) and ``train.py`` at commit dcfa4d54bcca43fba3632ec9d21d8bfabef1f6dd. Their targets are
0/1: y = [labels == 1], so un-annotated entries and annotated negatives are both negatives.

    hill   L = -y (1 - sigmoid(z - m))^g log sigmoid(z - m) + (1 - y) (lambda - sigmoid(z)) sigmoid(z)^2
    splc   z' = z - m where y = 1, else z;  from the official epoch change_epoch on,
           y' = 1 where sigmoid(z') > tau, else y;  p = sigmoid(z')
           L = -[y' logsigmoid(z') + (1 - y') logsigmoid(-z')] * (y' (1 - p) + (1 - y') p)^g

These are the paper's Hill loss (focal-margin positives, Hill-weighted negatives) and SPLC
(self-paced correction of likely missing positives). Exact to the official code: ``log(sigmoid(.))``
in Hill's positive term (not logsigmoid) and ``logsigmoid`` in SPLC's, the focal weights *not*
detached (gradients flow through them), the margin applied to annotated positives only (an entry
SPLC corrects keeps its un-shifted logit), and reduction ``sum`` (``mean`` = the official
``loss.mean()`` over B*C). As in the official code, a positive with z - m below about -103 makes
sigmoid underflow to 0 in float32 and its loss infinite (the trainer then stops with that reason).

Epochs: the official ``train.py`` passes a 0-based epoch and corrects when ``epoch >=
change_epoch``. ``change_epoch`` here is that official value; our ``state.epoch`` is 1-based, so
the correction runs from our epoch ``change_epoch + 1`` (the default 1: from the second epoch).
The correction is per batch and never written to the label store. The official SPLC builds its
constant with ``torch.tensor(1).cuda()`` and so runs on CUDA only; ours runs on any device.
README: tau = 0.65 for COCO with 75% of the labels left (preset ``splc-coco75``), 0.6 otherwise.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from bench import POS, Method, Param, TrainState, register_method, with_defaults

REDUCTION = Param("sum", choices=("sum", "mean"), help="sum (official) or mean over B*C")


def _reduce(matrix: torch.Tensor, reduction: str) -> torch.Tensor:
    return matrix.sum() if reduction == "sum" else matrix.mean()


@register_method("hill")
class HillLoss(Method):
    """Hill (official ``Hill``: lambda 1.5, margin 1, gamma 2, sum): focal-margin positives and
    Hill-shaped negatives (lambda - p) p^2."""

    description = "Hill loss (Zhang et al. 2021): focal margin positives, (lambda - p) p^2 negatives, summed"
    parameters = {
        "lamb": Param(1.5, min=1.0, help="lambda >= 1: the negative weight lambda - p stays >= 0"),
        "margin": Param(1.0, min=-100.0, max=100.0,
                        help="logit margin m of the positive term, in [-100, 100] (official 1; recommended 0.5-1)"),
        "gamma": Param(2.0, min=0.0, help="focusing exponent of the positive term, >= 0"),
        "reduction": REDUCTION,
    }

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> torch.Tensor:
        pos = labels == POS
        shifted = torch.where(pos, logits - self.margin, 0.0)  # 0 elsewhere keeps log(sigmoid) finite there
        pred_pos = torch.sigmoid(shifted)
        pred_neg = torch.sigmoid(logits)
        positive = -torch.log(pred_pos) * (1 - pred_pos) ** self.gamma
        negative = (self.lamb - pred_neg) * pred_neg ** 2
        return _reduce(torch.where(pos, positive, negative), self.reduction)


@register_method("splc")
class SPLCLoss(Method):
    """SPLC (official ``SPLC``: tau 0.6, change_epoch 1, margin 1, gamma 2, sum): focal margin
    loss whose negatives with sigmoid(z) > tau are trained as positives from the second epoch."""

    description = "SPLC (Zhang et al. 2021): self-paced correction of likely missing positives, focal margin, summed"
    parameters = {
        "tau": Param(0.6, min=0.0, max=1.0, help="probability threshold in [0, 1] above which a negative is corrected"),
        "change_epoch": Param(1, min=0,
                              help="official 0-based epoch from which to correct (ours: from epoch change_epoch+1)"),
        "margin": Param(1.0, min=-100.0, max=100.0, help="logit margin m of the annotated positives, in [-100, 100]"),
        "gamma": Param(2.0, min=0.0, help="focusing exponent of both sides, >= 0"),
        "reduction": REDUCTION,
    }

    def corrects(self, state: TrainState | None) -> bool:
        """Whether the correction is on: official 0-based epoch (ours - 1) >= change_epoch."""
        return (1 if state is None else state.epoch) - 1 >= self.change_epoch

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> torch.Tensor:
        targets = (labels == POS).float()
        shifted = torch.where(targets == 1, logits - self.margin, logits)
        if self.corrects(state):
            targets = torch.where(torch.sigmoid(shifted) > self.tau, 1.0, targets)
        pred = torch.sigmoid(shifted)
        focal_weight = ((1 - pred) * targets + pred * (1 - targets)) ** self.gamma
        loss = -(targets * F.logsigmoid(shifted) + (1 - targets) * F.logsigmoid(-shifted))
        return _reduce(loss * focal_weight, self.reduction)


@register_method("splc-coco75")
class SPLCCoco75(SPLCLoss):
    """SPLC with the README's tau = 0.65 for COCO with 75% of the labels left."""

    description = "SPLC with tau 0.65 (official README, COCO 75% labels left)"
    parameters = with_defaults(SPLCLoss.parameters, tau=0.65)
