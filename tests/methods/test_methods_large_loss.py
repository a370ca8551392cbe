"""Hand-worked LL-R / LL-Ct / LL-Cp cases on a 2x3 batch, computed with plain ``math``.

logits [[2, -1, 0.5], [0, 1.5, -2]], labels [[1, 0, -1], [0, 0, 1]] (our encoding). Un-annotated
losses BCE(z, 0) = softplus(z): (0,1) 0.313, (1,0) 0.693, (1,1) 1.701. With delta_rel = 0.2 and
B*C = 6: epoch 2 has clean_rate 0.8, k = 2 (tau = 0.693); epoch 3 k = 3; epoch 4 k = 4 > 3 candidates.
"""
from __future__ import annotations

import math
import sys

import pytest
import torch

from bench.plugins.method import LabelStore, TrainState
from bench.plugins.registry import METHODS

LOGITS = [[2.0, -1.0, 0.5], [0.0, 1.5, -2.0]]
LABELS = [[1, 0, -1], [0, 0, 1]]
ENTRIES = [(i, j) for i in range(2) for j in range(3)]


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def bce(i: int, j: int, target: int) -> float:
    z = LOGITS[i][j]
    return softplus(-z) if target == 1 else softplus(z)


def expected(rejected=(), corrected=()) -> float:
    total = 0.0
    for i, j in ENTRIES:
        target = 1 if LABELS[i][j] == 1 else 0
        if (i, j) in rejected:
            continue
        total += bce(i, j, 1 - target) if (i, j) in corrected else bce(i, j, target)
    return total / 6


def run(name: str, epoch: int, **params) -> float:
    method = METHODS.get(name)(delta_rel=0.2, **params)
    return method.loss(torch.tensor(LOGITS), torch.tensor(LABELS, dtype=torch.int8), TrainState(epoch=epoch)).item()


@pytest.mark.parametrize("name", ["ll-r", "ll-ct", "ll-cp"])
def test_epoch_one_is_plain_negative_mean(name):
    assert run(name, 1) == pytest.approx(expected(), rel=1e-6)


def test_schedules_across_epochs():
    assert run("ll-r", 2) == pytest.approx(expected(rejected={(1, 1), (1, 0)}), rel=1e-6)
    assert run("ll-ct", 2) == pytest.approx(expected(corrected={(1, 1), (1, 0)}), rel=1e-6)
    all_unannotated = {(0, 1), (1, 0), (1, 1)}
    assert run("ll-r", 3) == pytest.approx(expected(rejected=all_unannotated), rel=1e-6)
    assert run("ll-ct", 3) == pytest.approx(expected(corrected=all_unannotated), rel=1e-6)
    # LL-Cp: k = ceil(6 * 0.2) = 2 every epoch
    assert run("ll-cp", 3) == pytest.approx(expected(corrected={(1, 1), (1, 0)}), rel=1e-6)


def test_k_guard_versus_official_compat():
    all_unannotated = {(0, 1), (1, 0), (1, 1)}
    assert run("ll-r", 4) == pytest.approx(expected(rejected=all_unannotated), rel=1e-6)
    assert run("ll-ct", 4) == pytest.approx(expected(corrected=all_unannotated), rel=1e-6)
    # official: tau = 0, every entry (annotated ones too) is rejected / corrected
    assert run("ll-r", 4, official_compat=True) == 0.0
    assert run("ll-ct", 4, official_compat=True) == pytest.approx(expected(corrected=set(ENTRIES)), rel=1e-6)


def test_ll_cp_compat_runs_as_ll_ct():
    assert run("ll-cp", 3, official_compat=True) == pytest.approx(run("ll-ct", 3), rel=1e-7)
    method = METHODS.get("ll-cp")(delta_rel=0.2, official_compat=True)
    method.loss(torch.tensor(LOGITS), torch.tensor(LABELS, dtype=torch.int8), TrainState(epoch=2))
    assert method.pending_flips is None


def test_ll_cp_flips_strictly_above_tau_in_the_label_store():
    store = LabelStore(torch.zeros(4, 3, dtype=torch.int8))
    state = TrainState(epoch=2, indices=torch.tensor([3, 1]), label_store=store)
    method = METHODS.get("ll-cp")(delta_rel=0.2)
    method.loss(torch.tensor(LOGITS), torch.tensor(LABELS, dtype=torch.int8), state)
    method.on_step_end(state)
    # k = 2, tau = loss of (1,0); only (1,1) is strictly above: batch row 1 = dataset row 1
    assert store.labels.nonzero().tolist() == [[1, 1]] and store.labels[1, 1] == 1 and store.changes == 1
    method.on_step_end(state)
    assert store.changes == 1
    assert METHODS.get("ll-cp").mutates_labels and not METHODS.get("ll-ct").mutates_labels


def test_flips_without_a_label_store_are_a_clear_error():
    method = METHODS.get("ll-cp")(delta_rel=0.2)
    method.loss(torch.tensor(LOGITS), torch.tensor(LABELS, dtype=torch.int8), TrainState(epoch=2))
    with pytest.raises(ValueError, match="needs state.label_store"):
        method.on_step_end(TrainState(epoch=2))


def test_clean_rate_is_the_official_float_sequence():
    clean_rate = sys.modules[METHODS.get("ll-r").__module__].official_clean_rate
    assert clean_rate(1, 0.1) == 1.0
    assert clean_rate(4, 0.1) == 1.0 - 0.1 - 0.1 - 0.1 != 1 - 3 * 0.1
    # B*C = 10: official k = ceil(10 * (1 - 0.7000000000000001)) = 3, not 4
    method = METHODS.get("ll-r")(delta_rel=0.1)
    logits = torch.arange(10, dtype=torch.float32).reshape(2, 5)
    ignored = method.ignored_mask(logits, torch.zeros(2, 5, dtype=torch.int8), TrainState(epoch=4))
    assert ignored.reshape(-1).nonzero().flatten().tolist() == [7, 8, 9]


def test_ll_r_rejected_entries_have_zero_gradient():
    logits = torch.tensor(LOGITS, requires_grad=True)
    labels = torch.tensor(LABELS, dtype=torch.int8)
    method = METHODS.get("ll-r")(delta_rel=0.2)
    method.loss(logits, labels, TrainState(epoch=2)).backward()
    mask = method.ignored_mask(logits, labels, TrainState(epoch=2))
    assert mask.tolist() == [[False, False, False], [True, True, False]]
    assert (logits.grad[mask] == 0).all() and (logits.grad[~mask] != 0).all()


@pytest.mark.parametrize("selector, message", [
    ("ll-r[delta_rel=-1]", "method 'll-r': parameter 'delta_rel' must be in [0, 1]; got -1.0"),
    ("ll-r[delta_rel=5]", "method 'll-r': parameter 'delta_rel' must be in [0, 1]; got 5.0"),
    ("ll-ct[delta_rel=1.0000001]", "method 'll-ct': parameter 'delta_rel' must be in [0, 1]; got 1.0000001"),
    ("ll-cp[delta_rel=nan]", "method 'll-cp': parameter 'delta_rel' must be in [0, 1]; got nan"),
])
def test_delta_rel_is_a_fraction(selector, message):
    from bench.core.params import ParamError
    from bench.runs.resolve import get_method

    with pytest.raises(ParamError) as info:
        get_method(selector)
    assert str(info.value) == message
    assert get_method("ll-r[delta_rel=1]").delta_rel == 1.0 and get_method("ll-cp[delta_rel=0]").delta_rel == 0.0
    assert METHODS.get("ll-r")().delta_rel == 0.004 and METHODS.get("ll-ct")().delta_rel == 0.002
