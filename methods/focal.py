"""Focal loss (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017, eq. 5): ``focal``.

    FL = -alpha_t (1 - p_t)^gamma log(p_t),   p_t = p if y = 1 else 1 - p,
    alpha_t = alpha if y = 1 else 1 - alpha   (alpha None: alpha_t = 1)

Exactly the authors' reference ``sigmoid_focal_loss`` (facebookresearch/fvcore
``fvcore/nn/focal_loss.py``, copied as ``torchvision.ops.sigmoid_focal_loss``): log(p_t) is
``binary_cross_entropy_with_logits`` (no epsilon, no clamp), the modulating factor is *not*
detached, and alpha weights the positives (the paper's alpha = 0.25, gamma = 2 are the defaults;
fvcore's ``alpha = -1`` is our None). Targets y = [labels == 1]: un-annotated entries are
negatives, as in the multi-label baselines that compare with it.

Reduction: ``sum`` over B*C entries (default; the multi-label convention of CSL, ASL and Hill,
whose "Focal" baselines are summed) or ``mean``. RetinaNet's normalisation by the number of
positive anchors has no counterpart in classification. The ASL / Hill repositories' "Focal"
baseline (gamma 2 on both sides, no alpha, modulating factor detached, log clamped at 1e-8) is
``p-asl[gamma_pos=2,gamma_neg=2,gamma_unann=2]``, not this method.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from bench import POS, Method, Param, TrainState, register_method


@register_method("focal")
class FocalLoss(Method):
    """Sigmoid focal loss of Lin et al. (gamma 2, alpha 0.25), un-annotated entries as negatives."""

    description = "Focal loss (Lin et al. 2017), fvcore semantics, un-annotated as negatives, summed"
    parameters = {
        "gamma": Param(2.0, min=0.0, help="focusing exponent gamma >= 0 (0: alpha-weighted BCE)"),
        "alpha": Param(0.25, type=float, nullable=True, min=0.0, max=1.0,
                       help="weight of the positives in [0, 1] (negatives 1 - alpha); None: no weighting"),
        "reduction": Param("sum", choices=("sum", "mean"), help="sum over B*C (default) or mean"),
    }

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> torch.Tensor:
        targets = (labels == POS).float()
        p = torch.sigmoid(logits)
        ce_loss = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
        p_t = p * targets + (1 - p) * (1 - targets)
        loss = ce_loss * ((1 - p_t) ** self.gamma)
        if self.alpha is not None:
            loss = (self.alpha * targets + (1 - self.alpha) * (1 - targets)) * loss
        return loss.sum() if self.reduction == "sum" else loss.mean()
