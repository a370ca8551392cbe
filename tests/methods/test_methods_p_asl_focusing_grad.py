"""``p-asl[focusing_grad=True]`` and the ``asl-optimized`` preset (issue 15): the gradient flows
through the focusing factor, as ASL's ``AsymmetricLossOptimized`` (and ``AsymmetricLoss(...,
disable_torch_grad_focal_loss=False)``); the default keeps it detached, as CSL's code.

Hand-worked derivatives, p = sigmoid(z), one entry each:

* positive, g+ = 2: L = -(1-p)^2 log p.  Detached: dL/dz = -(1-p)^3.
  Through the factor: dL/dz = -(1-p)^3 + 2 p (1-p)^2 log p.
* un-annotated as negative, gu = 4, clip 0.05 (q = 1 - p + 0.05 < 1, base b = 1 - q = p - 0.05):
  L = -b^4 log q, dq/dz = -p(1-p).  Detached: dL/dz = b^4 p (1-p) / q.
  Through the factor: dL/dz = (4 b^3 log q - b^4 / q) * (-p (1-p)).
* annotated negative with p < clip: q clamps at 1, zero gradient either way.
"""
from __future__ import annotations

import math

import pytest
import torch

from bench.runs.resolve import get_method


def sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _grad(selector: str, logits: list[list[float]], labels: list[list[int]]) -> tuple[float, torch.Tensor]:
    z = torch.tensor(logits).requires_grad_(True)
    loss = get_method(selector).loss(z, torch.tensor(labels, dtype=torch.int8))
    loss.backward()
    return float(loss.detach()), z.grad


def test_positive_entry_by_hand():
    z = 0.4
    p = sig(z)
    detached = -(1 - p) ** 3
    through = -(1 - p) ** 3 + 2 * p * (1 - p) ** 2 * math.log(p)
    for flag, expected in ((False, detached), (True, through)):
        loss, grad = _grad(f"p-asl[gamma_pos=2,focusing_grad={flag}]", [[z]], [[1]])
        assert loss == pytest.approx(-(1 - p) ** 2 * math.log(p), rel=1e-6)
        assert float(grad[0, 0]) == pytest.approx(expected, rel=1e-5)


def test_clipped_unannotated_entry_by_hand():
    z = 0.8
    p = sig(z)
    q = 1 - p + 0.05
    base = 1 - q
    detached = base ** 4 * p * (1 - p) / q
    through = (4 * base ** 3 * math.log(q) - base ** 4 / q) * (-p * (1 - p))
    assert detached != pytest.approx(through, rel=1e-3)
    _, grad = _grad("asl", [[z]], [[0]])
    assert float(grad[0, 0]) == pytest.approx(detached, rel=1e-5)
    _, grad = _grad("asl-optimized", [[z]], [[0]])
    assert float(grad[0, 0]) == pytest.approx(through, rel=1e-5)


def test_clamped_negative_has_no_gradient_either_way():
    for selector in ("asl", "asl-optimized"):
        _, grad = _grad(selector, [[-4.0]], [[-1]])
        assert float(grad[0, 0]) == 0.0


def _asl_optimized(x: torch.Tensor, y: torch.Tensor, gamma_neg=4.0, gamma_pos=0.0, clip=0.05, eps=1e-8):
    """ASL's AsymmetricLossOptimized.forward (Alibaba-MIIL/ASL @ 8c9e0bd, src/loss_functions/losses.py),
    disable_torch_grad_focal_loss=False, transcribed for 0/1 targets."""
    targets, anti_targets = y, 1 - y
    xs_pos = torch.sigmoid(x)
    xs_neg = 1.0 - xs_pos
    if clip is not None and clip > 0:
        xs_neg = (xs_neg + clip).clamp(max=1)
    loss = targets * torch.log(xs_pos.clamp(min=eps))
    loss = loss + anti_targets * torch.log(xs_neg.clamp(min=eps))
    asymmetric_w = torch.pow(1 - xs_pos * targets - xs_neg * anti_targets,
                             gamma_pos * targets + gamma_neg * anti_targets)
    return -(loss * asymmetric_w).sum()


def test_asl_optimized_preset_matches_the_asl_class():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 5, generator=generator) * 3
    labels = torch.randint(-1, 2, (6, 5), generator=generator).to(torch.int8)  # -1 and 0 are ASL's negatives
    ours = logits.clone().requires_grad_(True)
    loss = get_method("asl-optimized").loss(ours, labels)
    loss.backward()
    theirs = logits.clone().requires_grad_(True)
    reference = _asl_optimized(theirs, (labels == 1).float())
    reference.backward()
    assert float(loss.detach()) == pytest.approx(float(reference.detach()), rel=1e-6)
    assert torch.allclose(ours.grad, theirs.grad, rtol=1e-5, atol=1e-7)
    detached = logits.clone().requires_grad_(True)
    get_method("asl").loss(detached, labels).backward()
    assert not torch.allclose(detached.grad, ours.grad, rtol=1e-3)


def test_asl_optimized_preset_values_and_default():
    preset = get_method("asl-optimized").params
    asl = get_method("asl").params
    assert preset == {**asl, "focusing_grad": True}
    assert get_method("p-asl").focusing_grad is False and asl["focusing_grad"] is False
