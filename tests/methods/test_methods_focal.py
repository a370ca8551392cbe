"""Focal loss (methods/focal.py) against numpy float64 computations of Lin et al.'s eq. 5 with the
fvcore / torchvision conventions (alpha on the positives, modulating factor not detached)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.plugins.registry import METHODS
from tests.helpers.gradients import finite_difference

LOGITS = np.array([[2.0, -1.0, 0.5], [0.0, 1.5, -4.0]])
LABELS = np.array([[1, 0, -1], [0, 1, 0]], dtype=np.int8)


def focal(z, y, gamma=2.0, alpha=0.25, weight_at=None):
    t = (y == 1).astype(float)
    p, q = 1 / (1 + np.exp(-z)), 1 / (1 + np.exp(-(z if weight_at is None else weight_at)))
    p_t, q_t = np.where(t == 1, p, 1 - p), np.where(t == 1, q, 1 - q)
    a_t = 1.0 if alpha is None else np.where(t == 1, alpha, 1 - alpha)
    return (-a_t * (1 - q_t) ** gamma * np.log(p_t)).sum()


def run(**params):
    z = torch.tensor(LOGITS, dtype=torch.float32, requires_grad=True)
    loss = METHODS.get("focal")(**params).loss(z, torch.tensor(LABELS))
    loss.backward()
    return float(loss.detach()), z.grad.numpy().astype(np.float64)


def test_one_entry_by_hand():
    z = torch.zeros(1, 1, requires_grad=True)
    loss = METHODS.get("focal")().loss(z, torch.ones(1, 1, dtype=torch.int8))
    assert float(loss.detach()) == pytest.approx(0.25 * 0.25 * math.log(2), rel=1e-6)  # alpha (1-p)^2 log 2


@pytest.mark.parametrize("params", [{}, {"gamma": 0.0}, {"alpha": None}, {"gamma": 1.0, "alpha": 0.75}])
def test_value_and_gradient_through_the_modulating_factor(params):
    gamma, alpha = params.get("gamma", 2.0), params.get("alpha", 0.25)
    value, grad = run(**params)
    assert value == pytest.approx(focal(LOGITS, LABELS, gamma, alpha), rel=1e-6)
    assert np.allclose(grad, finite_difference(lambda z: focal(z, LABELS, gamma, alpha), LOGITS), rtol=1e-4, atol=1e-7)
    if gamma:
        detached = finite_difference(lambda z: focal(z, LABELS, gamma, alpha, weight_at=LOGITS), LOGITS)
        assert not np.allclose(grad, detached, rtol=1e-4, atol=1e-7)


def test_mean_reduction_and_torchvision_agree():
    from torchvision.ops import sigmoid_focal_loss

    z = torch.tensor(LOGITS, dtype=torch.float32)
    targets = torch.tensor((LABELS == 1).astype(np.float32))
    assert run(reduction="mean")[0] == pytest.approx(focal(LOGITS, LABELS) / LOGITS.size, rel=1e-6)
    assert run()[0] == pytest.approx(float(sigmoid_focal_loss(z, targets, reduction="sum")), rel=1e-6)
