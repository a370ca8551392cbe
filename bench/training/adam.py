"""Adam for the feature heads, without ``torch.optim``'s first-use cost.

``torch.optim.Optimizer.__init__`` and ``step`` run behind ``torch._disable_dynamo``, whose first call
imports TorchDynamo: 1.5 s of a 6 s ``bench run`` on ``scene`` (2 cores), more than the training
itself. ``PlainAdam`` is Adam (Kingma & Ba, ICLR 2015, Algorithm 1) with coupled L2 weight decay,
computed with the same tensor operations in the same order as ``torch.optim.Adam``'s single-tensor
path (``foreach=False``, ``amsgrad=False``, ``maximize=False``, the CPU default), so on the CPU the
weights are bitwise those of ``torch.optim.Adam`` (``tests/training/test_adam.py``; on CUDA torch
defaults to its multi-tensor path, the same formula in other kernels, not checked bit for bit). The
step count is a Python int where torch keeps a float32 tensor: they part after 2**24 steps. One
scratch tensor per parameter holds the decayed gradient and then the denominator, where torch
allocates both anew every step (three 4.9 MB allocations per step at OpenImages scale). Per parameter ``p`` with
gradient ``g`` at step ``t`` (counted from 1) and group ``lr``, ``weight_decay``, ``betas``, ``eps``:

    g <- g + weight_decay * p                    (when weight_decay != 0; g itself is not changed)
    m <- lerp(m, g, 1 - beta1)                   v <- beta2 * v + (1 - beta2) * g * g
    p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

``param_groups`` are dicts as in ``torch.optim`` (the trainer drops ``lr`` in place); a parameter
whose ``grad`` is None is skipped and keeps its step count.
"""
from __future__ import annotations

from typing import Any, Iterable

import torch

BETAS = (0.9, 0.999)
EPS = 1e-8


class PlainAdam:
    """Adam with coupled L2 over parameter groups ``[{"params": [...], "weight_decay": w, "lr"?: r}]``;
    ``lr`` is every group's default learning rate (see the module docstring for the update)."""

    def __init__(self, groups: Iterable[dict[str, Any]], lr: float, betas: tuple[float, float] = BETAS,
                 eps: float = EPS) -> None:
        self.defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": 0.0}
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[torch.Tensor, dict[str, Any]] = {}
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group; keys it leaves out take the defaults."""
        group = {**self.defaults, **group, "params": list(group["params"])}
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (``set_to_none`` is accepted for ``torch.optim``'s signature;
        gradients are always set to None)."""
        for group in self.param_groups:
            for param in group["params"]:
                param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One Adam update of every parameter that has a gradient."""
        for group in self.param_groups:
            lr, weight_decay, eps = group["lr"], group["weight_decay"], group["eps"]
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad
                state = self.state.get(param)
                if state is None:
                    state = self.state[param] = {"step": 0, **{name: torch.zeros_like(
                        param, memory_format=torch.preserve_format) for name in ("exp_avg", "exp_avg_sq", "work")}}
                state["step"] += 1
                work = state["work"]  # scratch: the decayed gradient, then the denominator
                if weight_decay != 0:
                    grad = torch.add(grad, param, alpha=weight_decay, out=work)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                step = float(state["step"])
                bias_correction1 = 1 - beta1**step
                bias_correction2 = 1 - beta2**step
                denom = torch.sqrt(exp_avg_sq, out=work).div_(bias_correction2**0.5).add_(eps)
                param.addcdiv_(exp_avg, denom, value=-(lr / bias_correction1))
