"""GR loss (Chen et al., IJCAI 2024, "Boosting Single Positive Multi-label Classification with
Generalized Robust Loss"): ``gr``. docs/methods.md, "GR loss".

Official code: yan4xi1/GRLoss @ 5e13f7f9d8e40a804698860fd621bb272c1ad0a3, ``losses.py`` (``GR_loss``,
``neg_log``, ``loss1``, ``loss2``), ``models.py`` (``KFunction``, ``VFunction``), ``train.py`` (the
schedules of w, b, mu, sigma) and ``config.py`` (defaults ``--beta [0,2,-2,-2]``, ``--alpha
[0.5,2,0.8,0.5]``, ``--q2q3 [0.01,1]``).

With p = sigmoid(z) and p' = p detached:

    K = 1 / (1 + exp(-(w p' + b)))                 (KFunction, on the detached p)
    V = exp(-0.5 ((p' - mu) / sigma)^2)            (VFunction, on the detached p)
    P (y == 1):  -log(p + 1e-7)                     (GRLoss's neg_log: epsilon 1e-7, not Cole's 1e-5)
    U (y == 0):  V (K (1 - p^q2) / q2 + (1 - K) (1 - (1 - p)^q3) / q3)
    N (y == -1): 0                                 (the official loss matrix is zero there)
    loss = mean over all B*C entries (annotated negatives count in the denominator)

Schedules (train.py, with T = num_epochs, e the 1-based epoch and the official ``linear_init`` n = 0):

    w = w0 + (wT - w0) * max(e - 1, 0) / T,     b likewise from b0 to bT
    mu = mu0 + (muT - mu0) * max(e, 0) / T,     sigma likewise from sigma0 to sigmaT

so w and b start at w0, b0 in epoch 1 and never reach wT, bT (epoch T has (T - 1) / T of the way),
while mu and sigma have already moved 1/T in epoch 1 and reach muT, sigmaT in epoch T. This is the
official code and what ``gr`` computes. Not reproduced: ``linear_init`` > 0 (the official code then
freezes the backbone for n epochs, which is the recipe's business, and shifts both schedules by n),
and ``is_train`` (a learned per-class logistic K, off by default).

Declared ranges: w and b in [-100, 100] (K = sigmoid(w p + b) with p in [0, 1] is already 0 or 1 in
float32 well inside them), mu in [0, 1] (a centre on probabilities), sigma, q2, q3 > 0.
"""
from __future__ import annotations

import torch

from bench import NEG, POS, UNANN, Method, Param, TrainState, register_method

LOG_EPSILON = 1e-7  # GRLoss losses.py


def linear_schedule(start: float, end: float, progress: int, num_epochs: int) -> float:
    """start + (end - start) * max(progress, 0) / num_epochs, in the official order of operations."""
    return start + (end - start) * max(progress, 0) / num_epochs


@register_method("gr")
class GeneralizedRobustLoss(Method):
    """GR loss (Chen et al. IJCAI 2024): robust loss on un-annotated entries, weighted by K(p) and V(p)."""

    description = "Generalized robust loss (Chen et al. 2024), official defaults"
    parameters = {
        "w0": Param(0.0, min=-100.0, max=100.0, help="K's slope w in epoch 1 (official --beta[0]); in [-100, 100]"),
        "wT": Param(2.0, min=-100.0, max=100.0, help="K's slope w at the end of the schedule (--beta[1])"),
        "b0": Param(-2.0, min=-100.0, max=100.0, help="K's offset b in epoch 1 (--beta[2]); in [-100, 100]"),
        "bT": Param(-2.0, min=-100.0, max=100.0, help="K's offset b at the end of the schedule (--beta[3])"),
        "mu0": Param(0.5, min=0.0, max=1.0, help="V's centre mu before epoch 1, a probability (--alpha[0])"),
        "sigma0": Param(2.0, min=0.0, min_open=True, help="V's width sigma before epoch 1, > 0 (--alpha[1])"),
        "muT": Param(0.8, min=0.0, max=1.0, help="V's centre mu in the last epoch, a probability (--alpha[2])"),
        "sigmaT": Param(0.5, min=0.0, min_open=True, help="V's width sigma in the last epoch, > 0 (--alpha[3])"),
        "q2": Param(0.01, min=0.0, min_open=True, help="exponent of the pseudo-positive term, > 0 (--q2q3[0])"),
        "q3": Param(1.0, min=0.0, min_open=True, help="exponent of the negative term, > 0 (--q2q3[1])"),
    }

    def start_run(self) -> None:
        self._last_epoch: tuple[int, int] | None = None  # (last epoch trained, num_epochs planned)

    def run_notes(self) -> list[str]:
        """A note when training stopped before ``num_epochs`` (e.g. a plateau schedule, whose epochs
        are only a cap): w, b, mu and sigma then never reach their end values."""
        seen = getattr(self, "_last_epoch", None)
        if seen is None or seen[0] >= seen[1]:
            return []
        done = 100.0 * seen[0] / seen[1]
        return [f"{self.name}: training stopped at epoch {seen[0]} of the {seen[1]} its schedules are planned "
                f"over, so w, b, mu, sigma moved {done:.0f}% of the way; the paper's schedule needs a fixed "
                "number of epochs (schedule: onecycle, or a paper recipe)"]

    def schedule(self, state: TrainState | None) -> tuple[float, float, float, float]:
        """(w, b, mu, sigma) of ``state.epoch`` (module docstring)."""
        if state is None or state.num_epochs is None:
            raise ValueError(f"method '{self.name}' needs state.epoch and state.num_epochs for its schedules")
        epoch, total = state.epoch, state.num_epochs
        self._last_epoch = (epoch, total)
        return (linear_schedule(self.w0, self.wT, epoch - 1, total),
                linear_schedule(self.b0, self.bT, epoch - 1, total),
                linear_schedule(self.mu0, self.muT, epoch, total),
                linear_schedule(self.sigma0, self.sigmaT, epoch, total))

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> torch.Tensor:
        w, b, mu, sigma = self.schedule(state)
        p = torch.sigmoid(logits)
        detached = p.detach()
        k = 1 / (1 + torch.exp(-(w * detached + b)))
        v = torch.exp(-0.5 * ((detached - mu) / sigma) ** 2)
        positive, unannotated = labels == POS, labels == UNANN
        matrix = torch.zeros_like(p)  # indexed assignment, as the official code: no term is computed
        matrix[positive] = -torch.log(p[positive] + LOG_EPSILON)  # where it is not used
        pu, ku = p[unannotated], k[unannotated]
        matrix[unannotated] = v[unannotated] * (ku * ((1 - torch.pow(pu, self.q2)) / self.q2)
                                                + (1 - ku) * ((1 - torch.pow(1 - pu, self.q3)) / self.q3))
        return matrix.mean()

    def ignored_mask(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> torch.Tensor:
        """Annotated negatives: the official loss matrix is zero there."""
        return labels == NEG
