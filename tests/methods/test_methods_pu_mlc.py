"""Hand-worked PU-MLC cases (Yuan et al. ICME 2024), computed with plain ``math``.

Per class: T = min(alpha * population std of the batch's logits, 1), s = sigmoid(z / T),
L = (mean s)^gamma log(mean s) - mean over positives of log s, summed over classes; the 1e-10
epsilons are below float32 resolution here.
"""
from __future__ import annotations

import math

import pytest
import torch

from bench.plugins.registry import METHODS


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def run(name, logits, labels, **params):
    z = torch.tensor(logits, requires_grad=True)
    loss = METHODS.get(name)(**params).loss(z, torch.tensor(labels, dtype=torch.int8))
    loss.backward()
    return float(loss.detach()), z.grad


def class_loss(logits, positives, alpha, gamma):
    mean = sum(logits) / len(logits)
    std = math.sqrt(sum((z - mean) ** 2 for z in logits) / len(logits))
    t = min(alpha * std, 1.0)
    s = [sigmoid(z / t) for z in logits]
    mean_s = sum(s) / len(s)
    return mean_s ** gamma * math.log(mean_s) - sum(math.log(s[i]) for i in positives) / len(positives)


def test_two_classes_temperature_below_and_at_one():
    # class 0: z (1, -1), std 1, alpha 0.5 -> T 0.5; class 1: z (2, 0), std 1 -> T 0.5
    logits, labels = [[1.0, 2.0], [-1.0, 0.0]], [[1, 0], [0, 1]]
    loss, _ = run("pu-mlc", logits, labels, alpha=0.5, gamma=0.55)
    expected = class_loss([1.0, -1.0], [0], 0.5, 0.55) + class_loss([2.0, 0.0], [1], 0.5, 0.55)
    assert loss == pytest.approx(expected, rel=1e-6)
    loss, _ = run("pu-mlc-voc", logits, labels)  # alpha 2: T = min(2, 1) = 1
    expected = class_loss([1.0, -1.0], [0], 2.0, 0.85) + class_loss([2.0, 0.0], [1], 2.0, 0.85)
    assert loss == pytest.approx(expected, rel=1e-6)


def test_temperature_and_weight_are_detached():
    # T = 0.5 (alpha 0.5, std 1), s_i = sigmoid(2 z_i); w constant:
    # dL/dz1 = w * 2 s1 (1 - s1) / (s1 + s2) - 2 (1 - s1),   dL/dz2 = w * 2 s2 (1 - s2) / (s1 + s2)
    s1, s2 = sigmoid(2.0), sigmoid(-2.0)
    w = ((s1 + s2) / 2) ** 0.55
    _, grad = run("pu-mlc", [[1.0], [-1.0]], [[1], [0]], alpha=0.5)
    assert float(grad[0, 0]) == pytest.approx(w * 2 * s1 * (1 - s1) / (s1 + s2) - 2 * (1 - s1), rel=1e-5)
    assert float(grad[1, 0]) == pytest.approx(w * 2 * s2 * (1 - s2) / (s1 + s2), rel=1e-5)


def test_annotated_negatives_are_discarded():
    logits = [[0.3, -1.2], [2.0, 0.4], [-0.7, 1.1]]
    with_negatives, _ = run("pu-mlc", logits, [[1, -1], [-1, 1], [0, -1]])
    unlabelled, _ = run("pu-mlc", logits, [[1, 0], [0, 1], [0, 0]])
    assert with_negatives == unlabelled


def test_class_without_positives_has_only_the_unlabelled_term():
    loss, _ = run("pu-mlc", [[1.0], [-1.0]], [[0], [0]], gamma=0.55)
    assert loss == pytest.approx(0.5 ** 0.55 * math.log(0.5), rel=1e-6)


def test_constant_class_uses_temperature_one():
    # one row: std 0; our guard T = 1, so L = s^gamma log s - log s with s = sigmoid(3)
    s = sigmoid(3.0)
    loss, grad = run("pu-mlc", [[3.0]], [[1]])
    assert loss == pytest.approx(s ** 0.55 * math.log(s) - math.log(s), rel=1e-6)
    assert torch.isfinite(grad).all()
    _, grad = run("pu-mlc", [[3.0]], [[1]], official_compat=True)  # official: T^-1 infinite
    assert not torch.isfinite(grad).all()


def test_mixup_is_recorded_off_only():
    assert METHODS.get("pu-mlc")().mixup is False
    with pytest.raises(Exception, match="mixup"):
        METHODS.get("pu-mlc")(mixup=True)


def test_presets_carry_the_official_arguments():
    assert (METHODS.get("pu-mlc-coco")().alpha, METHODS.get("pu-mlc-coco")().gamma) == (1.0, 0.55)
    assert (METHODS.get("pu-mlc-voc")().alpha, METHODS.get("pu-mlc-voc")().gamma) == (2.0, 0.85)
