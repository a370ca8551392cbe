"""PU-MLC (Yuan et al., ICME 2024, "Positive Label Is All You Need for Multi-Label Classification"):
``pu-mlc`` and its presets ``pu-mlc-coco``, ``pu-mlc-voc``. docs/methods.md, "PU-MLC".

Official code: TAKELAMAG/PU-MLC @ 5c54d37201f154bbb3eceeb773cc509c48d64f75,
``src/loss_functions/vpu_loss.py`` (class ``vpuLoss``; ``mixup``) and ``train.py`` / README (the COCO
and VOC arguments ``--alpha 1.0 --gamma 0.55`` and ``--alpha 2.0 --gamma 0.85``).

A positive-unlabelled loss: annotated negatives are discarded (read as unlabelled, like every other
entry), only ``y == 1`` is used. Per class c, over the B rows of the batch:

    T_c = min(alpha * sqrt(sum_b (z_bc - mean_b z_bc)^2 / B), 1)        (population std, detached)
    s = sigmoid(z * T_c^-1)                                          (multiplied by the reciprocal)
    l = log(s + 1e-10)
    w_c = (1 - sum_b (1 - s_bc) * B^-1)^gamma                        (= (mean s)^gamma, detached)
    u_c = w_c * log(sum_b exp(l_bc) * B^-1 + 1e-10)
    p_c = n_c^-1 * sum_{b: y_bc = 1} log(exp(l_bc) + 1e-10)           (n_c positives; 0 when none)
    loss = sum_c u_c - sum_c p_c

i.e. L_c = w_c log(mean_b s) - mean over positives of log s, summed over classes (not averaged). The
reduction is per batch (means over rows), so under DDP each process's loss is its own shard's, as in
the official DDP training; there is no ``reduction`` parameter.

Guards (ours, off with ``official_compat=True``): a class whose logits are all equal in the batch (a
batch of one row, or saturated logits) has alpha * std = 0, and the official T^-1 is infinite (NaN
loss); we use T_c = 1 there. 1 - mean(1 - s) is clamped at 0 before the power (float rounding can
make it -1e-7, whose power is NaN).

Not reproduced: the official training adds a MixUp regulariser (``mixup``, mix_alpha 0.3: a second
forward pass of the model on mixed image pairs, squared log-difference to the mixed targets). It
needs the model and the input images, which a method's ``loss`` does not get, so it cannot be done
inside a loss; the ``mixup`` parameter records that it is off and accepts only False. The official
loss also runs on the fp16 outputs of autocast; bench computes every loss in float32.
"""
from __future__ import annotations

import torch

from bench import POS, Method, Param, TrainState, register_method, with_defaults

EPS = 1e-10  # vpu_loss.py


@register_method("pu-mlc")
class PositiveUnlabelledMLC(Method):
    """PU-MLC variational PU loss (Yuan et al. ICME 2024), official COCO values (alpha 1.0, gamma 0.55)."""

    description = "PU-MLC positive-unlabelled loss (negatives discarded), COCO alpha 1.0 gamma 0.55"
    parameters = {
        "alpha": Param(1.0, min=0.0, min_open=True, help="temperature scale: T_c = min(alpha * std_c, 1), > 0"),
        "gamma": Param(0.55, min=0.0, help="re-balance exponent: w_c = (mean s)^gamma, >= 0"),
        "mixup": Param(False, choices=(False,),
                       help="official MixUp regulariser: needs a second forward pass, not possible in a loss; "
                            "recorded as off"),
        "official_compat": Param(False, help="no guards: T^-1 infinite for a constant class, "
                                             "(1 - mean(1 - s)) unclamped"),
    }

    def temperature(self, logits: torch.Tensor) -> torch.Tensor:
        """T_c (C,), detached (module docstring)."""
        with torch.no_grad():
            centred = logits - torch.mean(logits, dim=0)
            std = self.alpha * ((torch.sum(centred.pow(2), dim=0) / logits.size(0)).pow(0.5))
            std = torch.where(std > 1.0, 1.0, std)
            if not self.official_compat:
                std = torch.where(std == 0, 1.0, std)
        return std

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> torch.Tensor:
        inverse = self.temperature(logits).pow(-1)
        positive = (labels == POS).float()
        rows_inverse = torch.tensor(float(logits.size(0))).pow(-1)
        positives_inverse = positive.sum(dim=0).pow(-1)
        positives_inverse = torch.where(torch.isinf(positives_inverse), 0.0, positives_inverse)
        scaled = logits * inverse
        log_s = torch.log(torch.sigmoid(scaled) + EPS)
        with torch.no_grad():
            mean_s = 1 - torch.sum(1 - torch.sigmoid(scaled), dim=0) * rows_inverse
            weight = torch.pow(mean_s if self.official_compat else mean_s.clamp(min=0), self.gamma)
        p_loss = (torch.log(torch.exp(log_s * positive) + EPS) * positives_inverse).sum()
        u_loss = (torch.log(torch.sum(torch.exp(log_s), dim=0) * rows_inverse + EPS) * weight).sum()
        return u_loss - p_loss


@register_method("pu-mlc-coco")
class PositiveUnlabelledMLCCoco(PositiveUnlabelledMLC):
    """PU-MLC with the official COCO arguments: alpha 1.0, gamma 0.55."""

    description = "PU-MLC, official COCO arguments (alpha 1.0, gamma 0.55)"


@register_method("pu-mlc-voc")
class PositiveUnlabelledMLCVoc(PositiveUnlabelledMLC):
    """PU-MLC with the official VOC arguments: alpha 2.0, gamma 0.85."""

    description = "PU-MLC, official VOC arguments (alpha 2.0, gamma 0.85)"
    parameters = with_defaults(PositiveUnlabelledMLC.parameters, alpha=2.0, gamma=0.85)
