"""Hand-worked GR loss cases (Chen et al. IJCAI 2024), computed with plain ``math``.

Epoch e of T: w = w0 + (wT - w0)(e - 1)/T, mu = mu0 + (muT - mu0) e / T (the official schedules).
With the defaults and T = 4, epoch 1: w 0, b -2, mu 0.575, sigma 1.625.
"""
from __future__ import annotations

import math

import pytest
import torch

from bench.plugins.method import TrainState
from bench.plugins.registry import METHODS

LN3 = math.log(3.0)


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def unobserved(p: float, w: float, b: float, mu: float, sigma: float, q2=0.01, q3=1.0) -> float:
    k = sigmoid(w * p + b)
    v = math.exp(-((p - mu) ** 2) / (2 * sigma ** 2))
    return v * (k * (1 - p ** q2) / q2 + (1 - k) * (1 - (1 - p) ** q3) / q3)


def run(logits, labels, epoch, num_epochs, **params):
    z = torch.tensor(logits, requires_grad=True)
    loss = METHODS.get("gr")(**params).loss(z, torch.tensor(labels, dtype=torch.int8),
                                            TrainState(epoch=epoch, num_epochs=num_epochs))
    loss.backward()
    return float(loss.detach()), z.grad


def test_schedules_follow_the_official_offsets():
    method = METHODS.get("gr")()
    assert method.schedule(TrainState(epoch=1, num_epochs=4)) == pytest.approx((0.0, -2.0, 0.575, 1.625))
    # last epoch: w has only (T - 1) / T of its way, mu and sigma are at their end values
    assert method.schedule(TrainState(epoch=4, num_epochs=4)) == pytest.approx((1.5, -2.0, 0.8, 0.5))


def test_loss_of_positive_unobserved_and_negative_entries():
    loss, _ = run([[LN3, 0.0, 0.0]], [[1, 0, -1]], epoch=1, num_epochs=4)
    expected = (-math.log(0.75 + 1e-7) + unobserved(0.5, 0.0, -2.0, 0.575, 1.625) + 0.0) / 3
    assert loss == pytest.approx(expected, rel=1e-6)


def test_k_and_v_are_detached():
    # d/dz of V (K (1 - p^q2)/q2 + (1 - K) p) with K, V constants: V (-K p^(q2 - 1) + 1 - K) p (1 - p)
    p, (w, b, mu, sigma) = 0.75, (1.5, -2.0, 0.8, 0.5)
    k, v = sigmoid(w * p + b), math.exp(-((p - mu) ** 2) / (2 * sigma ** 2))
    expected = v * (-k * p ** (0.01 - 1) + (1 - k)) * p * (1 - p) / 2
    _, grad = run([[LN3, 0.0]], [[0, -1]], epoch=4, num_epochs=4)
    assert float(grad[0, 0]) == pytest.approx(expected, rel=1e-5)
    assert float(grad[0, 1]) == 0.0  # annotated negatives are not trained (official zero entry)


def test_positive_gradient_uses_the_1e7_epsilon():
    _, grad = run([[LN3]], [[1]], epoch=2, num_epochs=4)
    assert float(grad[0, 0]) == pytest.approx(-0.75 * 0.25 / (0.75 + 1e-7), rel=1e-6)


def test_other_exponents():
    loss, _ = run([[-LN3]], [[0]], epoch=2, num_epochs=2, q2=0.5, q3=2.0, w0=1.0, wT=3.0, b0=0.0, bT=1.0)
    # epoch 2 of 2: w = 1 + 2 * 1/2 = 2, b = 0.5, mu = 0.8, sigma = 0.5
    assert loss == pytest.approx(unobserved(0.25, 2.0, 0.5, 0.8, 0.5, q2=0.5, q3=2.0), rel=1e-6)


def test_needs_the_number_of_epochs():
    with pytest.raises(ValueError, match="num_epochs"):
        METHODS.get("gr")().loss(torch.zeros(1, 2), torch.zeros(1, 2, dtype=torch.int8), TrainState())


def test_a_run_stopped_before_its_planned_epochs_says_its_schedule_did_not_finish():
    from bench import TrainState, get_method

    method = get_method("gr")
    method.start_run()
    logits, labels = torch.zeros(2, 3), torch.tensor([[1, 0, -1], [0, 1, 0]], dtype=torch.int8)
    method.loss(logits, labels, TrainState(epoch=23, num_epochs=200))
    (note,) = method.run_notes()
    assert "stopped at epoch 23 of the 200" in note and "moved 12% of the way" in note
    method.loss(logits, labels, TrainState(epoch=200, num_epochs=200))
    assert method.run_notes() == []
