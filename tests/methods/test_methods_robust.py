"""Hill and SPLC (methods/robust.py), against numpy float64 computations of the formulas of the
official losses.py (xinyu1205/robust-loss-mlml @ dcfa4d5), not the plugin's code."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.plugins.method import TrainState
from bench.plugins.registry import METHODS
from tests.helpers.gradients import finite_difference

LOGITS = np.array([[2.0, -1.0, 0.8, -3.0], [0.0, 1.5, -0.5, 4.0]])
LABELS = np.array([[1, 0, 0, -1], [0, 1, -1, 0]], dtype=np.int8)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def run(name, logits=LOGITS, labels=LABELS, epoch=1, **params):
    z = torch.tensor(logits, dtype=torch.float32, requires_grad=True)
    loss = METHODS.get(name)(**params).loss(z, torch.tensor(labels), TrainState(epoch=epoch))
    loss.backward()
    return float(loss.detach()), z.grad.numpy().astype(np.float64)


def hill(z, y, lamb=1.5, m=1.0, gamma=2.0):
    pos = y == 1  # un-annotated and annotated negatives are both negatives
    pm, p = sigmoid(z - m), sigmoid(z)
    return np.where(pos, -((1 - pm) ** gamma) * np.log(pm), (lamb - p) * p ** 2).sum()


def test_hill_one_entry_by_hand():
    # a positive at z = 1 (shifted logit 0: p_m = 1/2) and a negative at z = 0 (p = 1/2)
    value, _ = run("hill", np.array([[1.0, 0.0]]), np.array([[1, 0]], dtype=np.int8))
    assert value == pytest.approx(0.25 * math.log(2) + (1.5 - 0.5) * 0.25, rel=1e-6)


@pytest.mark.parametrize("params", [{}, {"lamb": 2.0, "margin": 0.5, "gamma": 1.0}])
def test_hill_value_and_gradient_through_the_focal_weight(params):
    kwargs = {"lamb": params.get("lamb", 1.5), "m": params.get("margin", 1.0), "gamma": params.get("gamma", 2.0)}
    value, grad = run("hill", **params)
    assert value == pytest.approx(hill(LOGITS, LABELS, **kwargs), rel=1e-6)
    assert np.allclose(grad, finite_difference(lambda z: hill(z, LABELS, **kwargs), LOGITS), rtol=1e-4, atol=1e-7)
    mean, _ = run("hill", reduction="mean", **params)
    assert mean == pytest.approx(hill(LOGITS, LABELS, **kwargs) / LOGITS.size, rel=1e-6)


def splc(z, y, epoch0, tau=0.6, change_epoch=1, m=1.0, gamma=2.0, weight_at=None):
    """Official SPLC at the official 0-based epoch ``epoch0``; ``weight_at`` holds the focal weight at
    fixed logits (to show the weight is not detached)."""
    t = (y == 1).astype(float)
    shifted = np.where(t == 1, z - m, z)
    if epoch0 >= change_epoch:
        t = np.where(sigmoid(shifted) > tau, 1.0, t)
    p = sigmoid(shifted if weight_at is None else np.where((y == 1), weight_at - m, weight_at))
    weight = ((1 - p) * t + p * (1 - t)) ** gamma
    ce = -(t * np.log(sigmoid(shifted)) + (1 - t) * np.log(sigmoid(-shifted)))
    return (ce * weight).sum()


def test_splc_corrects_from_our_second_epoch():
    # un-annotated z = 0.8 and 4.0 and the annotated negative z = 1.5 (row 1 class 1 is a positive)
    first, _ = run("splc", epoch=1)
    second, grad = run("splc", epoch=2)
    assert first == pytest.approx(splc(LOGITS, LABELS, epoch0=0), rel=1e-6)
    assert second == pytest.approx(splc(LOGITS, LABELS, epoch0=1), rel=1e-6)
    assert first != pytest.approx(second, rel=1e-3)  # corrected: sigmoid(0.8) = 0.69 and sigmoid(4) > 0.6
    numeric = finite_difference(lambda z: splc(z, LABELS, epoch0=1), LOGITS)
    assert np.allclose(grad, numeric, rtol=1e-4, atol=1e-7)
    detached = finite_difference(lambda z: splc(z, LABELS, epoch0=1, weight_at=LOGITS), LOGITS)
    assert not np.allclose(grad, detached, rtol=1e-4, atol=1e-7)


def test_splc_change_epoch_is_the_official_zero_based_value():
    assert run("splc", epoch=3, change_epoch=3)[0] == pytest.approx(splc(LOGITS, LABELS, epoch0=2, change_epoch=3))
    assert run("splc", epoch=4, change_epoch=3)[0] == pytest.approx(splc(LOGITS, LABELS, epoch0=3, change_epoch=3))
    assert run("splc", epoch=1, change_epoch=0)[0] == pytest.approx(splc(LOGITS, LABELS, epoch0=0, change_epoch=0))


def test_splc_coco75_preset_and_tau():
    assert METHODS.get("splc-coco75")().tau == 0.65 and METHODS.get("splc")().tau == 0.6
    # sigmoid(0.8) = 0.690 sits between 0.65 and 0.7: corrected at tau 0.65, not at 0.7
    assert run("splc-coco75", epoch=2)[0] == pytest.approx(splc(LOGITS, LABELS, 1, tau=0.65), rel=1e-6)
    assert run("splc", epoch=2, tau=0.7)[0] == pytest.approx(splc(LOGITS, LABELS, 1, tau=0.7), rel=1e-6)
    assert splc(LOGITS, LABELS, 1, tau=0.65) != pytest.approx(splc(LOGITS, LABELS, 1, tau=0.7), rel=1e-4)


def test_splc_never_writes_labels():
    assert not METHODS.get("splc").mutates_labels


@pytest.mark.parametrize("selector, message", [
    ("hill[lamb=0.5]", "parameter 'lamb' must be in [1, inf)"),
    ("splc[tau=1.5]", "parameter 'tau' must be in [0, 1]"),
    ("splc[change_epoch=-1]", "parameter 'change_epoch' must be in [0, inf)"),
])
def test_declared_bounds(selector, message):
    from bench.core.params import ParamError
    from bench.runs.resolve import get_method

    with pytest.raises(ParamError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        get_method(selector)
