"""Cole et al. CVPR 2021 (methods/cole.py): an, an-ls, wan, epr (+ presets), role.

Expected values are computed here with plain numpy in float64 from the formulas of the official
losses.py (elijahcole/single-positive-multi-label @ 89152d5), not with the plugin's helpers."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.plugins import conformance
from bench.plugins.method import TrainState
from bench.plugins.registry import METHODS
from tests.helpers.gradients import finite_difference

LOGITS = np.array([[2.0, -1.0, 0.5, -3.0], [0.0, 1.5, -0.5, 4.0]])
LABELS = np.array([[1, 0, 0, -1], [0, 1, 0, 0]], dtype=np.int8)
B, C = LOGITS.shape
EPS = 1e-5


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def nl(x):
    return -np.log(x + EPS)


def torch_loss(name, logits=LOGITS, labels=LABELS, state=None, **params):
    z = torch.tensor(logits, dtype=torch.float32, requires_grad=True)
    loss = METHODS.get(name)(**params).loss(z, torch.tensor(labels, dtype=torch.int8), state)
    loss.backward()
    return float(loss.detach()), z.grad.numpy().astype(np.float64)


def expected_an(z, y, negatives=True):
    p = sigmoid(z)
    m = np.where(y == 1, nl(p), 0.0) + np.where((y == 0) | ((y == -1) & negatives), nl(1 - p), 0.0)
    return m.sum() / (B * C)


def test_an_by_hand_one_entry():
    # a 1x2 batch: positive with z = 0 (p = 0.5) and an unobserved entry with z = 0
    value, _ = torch_loss("an", np.zeros((1, 2)), np.array([[1, 0]], dtype=np.int8))
    assert value == pytest.approx(2 * -math.log(0.5 + 1e-5) / 2, rel=1e-6)


@pytest.mark.parametrize("compat", [False, True])
def test_an_value_and_gradient(compat):
    value, grad = torch_loss("an", official_compat=compat)
    assert value == pytest.approx(expected_an(LOGITS, LABELS, negatives=not compat), rel=1e-6)
    numeric = finite_difference(lambda z: expected_an(z, LABELS, negatives=not compat), LOGITS)
    assert np.allclose(grad, numeric, rtol=1e-3, atol=1e-6)
    assert (grad[0, 3] == 0) == compat  # the annotated negative: no term under official_compat


def test_an_ls_value():
    e = 0.1
    p = sigmoid(LOGITS)
    m = np.where(LABELS == 1, (1 - e) * nl(p) + e * nl(1 - p), (1 - e) * nl(1 - p) + e * nl(p))
    assert torch_loss("an-ls")[0] == pytest.approx(m.sum() / (B * C), rel=1e-6)
    e = 0.3
    m = np.where(LABELS == 1, (1 - e) * nl(p) + e * nl(1 - p), (1 - e) * nl(1 - p) + e * nl(p))
    assert torch_loss("an-ls", ls_coef=0.3)[0] == pytest.approx(m.sum() / (B * C), rel=1e-6)


def test_wan_divides_only_the_unobserved_term_by_c_minus_1():
    p = sigmoid(LOGITS)
    m = np.where(LABELS == 1, nl(p), np.where(LABELS == 0, nl(1 - p) / (C - 1), nl(1 - p)))
    assert torch_loss("wan")[0] == pytest.approx(m.sum() / (B * C), rel=1e-6)
    assert torch_loss("wan", reduction="sum")[0] == pytest.approx(m.sum(), rel=1e-6)
    with pytest.raises(ValueError, match="at least 2 classes"):
        torch_loss("wan", np.zeros((2, 1)), np.zeros((2, 1), dtype=np.int8))


def expected_epr(z, y, k, negatives=True):
    p = sigmoid(z)
    m = np.where(y == 1, nl(p), 0.0) + np.where((y == -1) & negatives, nl(1 - p), 0.0)
    return m.sum() / (B * C) + (p.sum(1).mean() - k) ** 2 / C ** 2


@pytest.mark.parametrize("name, k", [("epr-voc", 1.5), ("epr-coco", 2.9), ("epr-nus", 1.9), ("epr-cub", 31.4)])
def test_epr_presets_are_the_official_k(name, k):
    value, grad = torch_loss(name)
    assert METHODS.get(name)().expected_num_pos == k
    assert value == pytest.approx(expected_epr(LOGITS, LABELS, k), rel=1e-6)
    assert np.allclose(grad, finite_difference(lambda z: expected_epr(z, LABELS, k), LOGITS), rtol=1e-3, atol=1e-6)


def test_epr_without_k_reads_the_training_positive_rate():
    method = METHODS.get("epr")()
    assert method.expected_num_pos is None and list(method.required_artifacts()) == ["class_positive_rate"]
    assert METHODS.get("epr")(expected_num_pos=2.0).required_artifacts() == {}
    rate = torch.tensor([0.5, 0.25, 0.75, 0.1])  # k = 1.6 positives per image
    value, _ = torch_loss("epr", state=TrainState(artifacts={"class_positive_rate": rate}))
    assert value == pytest.approx(expected_epr(LOGITS, LABELS, 1.6), rel=1e-6)
    with pytest.raises(ValueError, match="needs expected_num_pos or the artifact 'class_positive_rate'"):
        torch_loss("epr", state=TrainState())


def role_value(z, e, y, k, z_fixed, e_fixed, negatives=True):
    """Official ROLE with g' = sigmoid(e_fixed) in f's cross term and p' = sigmoid(z_fixed) in g's."""
    p, g, gd, pd = sigmoid(z), sigmoid(e), sigmoid(e_fixed), sigmoid(z_fixed)
    neg = (y == -1) & negatives
    direct = np.where(y == 1, nl(p) + nl(g), 0.0) + np.where(neg, nl(1 - p) + nl(1 - g), 0.0)
    cross = gd * nl(p) + (1 - gd) * nl(1 - p) + pd * nl(g) + (1 - pd) * nl(1 - g)
    reg = (p.sum(1).mean() - k) ** 2 / C ** 2 + (g.sum(1).mean() - k) ** 2 / C ** 2
    return (0.5 * direct + 0.5 * cross).sum() / (B * C) + 0.5 * reg


ESTIMATOR = np.array([[5.0, 0.3, -0.2, -5.0], [0.1, 5.0, -0.4, 0.2]])


@pytest.mark.parametrize("compat", [False, True])
def test_role_value_and_detached_cross_terms(compat):
    k = 1.5
    z = torch.tensor(LOGITS, dtype=torch.float32, requires_grad=True)
    e = torch.tensor(ESTIMATOR, dtype=torch.float32, requires_grad=True)
    state = TrainState(extra={"label_estimator_logits": e})
    method = METHODS.get("role")(expected_num_pos=k, official_compat=compat)
    loss = method.loss(z, torch.tensor(LABELS), state)
    loss.backward()
    negatives = not compat
    assert float(loss.detach()) == pytest.approx(role_value(LOGITS, ESTIMATOR, LABELS, k, LOGITS, ESTIMATOR, negatives),
                                        rel=1e-6)
    grad_f = finite_difference(lambda x: role_value(x, ESTIMATOR, LABELS, k, LOGITS, ESTIMATOR, negatives), LOGITS)
    grad_g = finite_difference(lambda x: role_value(LOGITS, x, LABELS, k, LOGITS, ESTIMATOR, negatives), ESTIMATOR)
    assert np.allclose(z.grad.numpy(), grad_f, rtol=1e-3, atol=1e-6)
    assert np.allclose(e.grad.numpy(), grad_g, rtol=1e-3, atol=1e-6)
    # without the detach, f's gradient would also carry d(g's cross term)/dp: a different value
    undetached = finite_difference(lambda x: role_value(x, ESTIMATOR, LABELS, k, x, ESTIMATOR, negatives), LOGITS)
    assert not np.allclose(z.grad.numpy(), undetached, rtol=1e-3, atol=1e-6)


def test_role_needs_its_estimator_rows():
    method = METHODS.get("role")(expected_num_pos=1.0)
    z, labels = torch.zeros(2, 4), torch.zeros(2, 4, dtype=torch.int8)
    with pytest.raises(ValueError, match=r"needs state.extra\['label_estimator_logits'\]"):
        method.loss(z, labels, TrainState())
    with pytest.raises(ValueError, match=r"has shape \(2, 3\)"):
        method.loss(z, labels, TrainState(extra={"label_estimator_logits": torch.zeros(2, 3)}))


def test_role_initialisation_is_coles():
    labels = torch.tensor([[1, 0, -1], [0, 0, 1]], dtype=torch.int8)
    table = METHODS.get("role")().trainable_state(labels, torch.Generator().manual_seed(3))
    assert isinstance(table, torch.nn.Parameter) and table.dtype == torch.float32 and table.shape == (2, 3)
    logit = lambda q: math.log(q / (1 - q))  # noqa: E731
    assert table[labels == 1].tolist() == pytest.approx([logit(0.995)] * 2, rel=1e-6)
    assert table[labels == -1].tolist() == pytest.approx([logit(0.005)], rel=1e-6)
    draws = torch.rand(2, 3, generator=torch.Generator().manual_seed(3)).numpy()
    unobserved = (labels == 0).numpy()
    assert np.allclose(table.detach().numpy()[unobserved], logit(0.6) * (2 * draws[unobserved] - 1), atol=1e-7)
    assert METHODS.get("role")().lr_mult == 10.0
    assert "whole batch" in METHODS.get("role")().compatible("linear", object, processes=2)
    assert "whole batch" in METHODS.get("epr-coco")().compatible("linear", object, processes=2)
    assert METHODS.get("an")().compatible("linear", object, processes=2) is None
    assert METHODS.get("role")().compatible("linear", object, processes=1) is None


def suite_with_stand_ins(monkeypatch):
    """The conformance suite with the stand-ins the engine must add (see docs/methods.md, Cole et
    al.): a class positive rate among the synthetic artifacts, and for a method that declares
    ``trainable_state_key`` a deterministic table of rows (a function of the labels, so a class
    permutation permutes it)."""
    make_state, synthetic = conformance.make_state, conformance.synthetic_artifacts

    def artifacts(num_classes, seed=0):
        rate = 0.05 + 0.2 * torch.rand(num_classes, generator=torch.Generator().manual_seed(seed + 1))
        return {**synthetic(num_classes, seed), "class_positive_rate": rate}

    def state(method, labels, artifacts=None):
        out = make_state(method, labels, artifacts)
        key = getattr(method, "trainable_state_key", None)
        if key:
            rows = torch.where(labels == 1, 2.0, torch.where(labels == -1, -2.0, 0.5)).to(torch.float32)
            out.extra[key] = rows.requires_grad_(True)
        return out

    monkeypatch.setattr(conformance, "synthetic_artifacts", artifacts)
    monkeypatch.setattr(conformance, "make_state", state)


@pytest.mark.parametrize("name, params", [
    ("an", {"official_compat": True}), ("an-ls", {"official_compat": True}), ("wan", {"official_compat": True}),
    ("epr", {}), ("epr", {"official_compat": True}), ("role", {}), ("role", {"expected_num_pos": 2.9}),
    ("role", {"official_compat": True}),
])
def test_conformance_with_the_engine_stand_ins(monkeypatch, name, params):
    suite_with_stand_ins(monkeypatch)
    cls = METHODS.get(name)
    results = conformance.run_checks(lambda: cls(**params))
    assert [r for r in results if r.status == "fail"] == []
    if params.get("official_compat") and name in ("an", "an-ls", "wan"):
        assert {r.check: r.status for r in results}["ignored_zero_grad"] == "pass"
