"""Hand-worked EM and EM+APL cases (Zhou et al. 2022), computed with plain ``math``.

neg_log(x) = -log(x + 1e-5); the loss is the sum of the entries divided by B*C. Logits are chosen so
that p is exact: z = 0 -> 1/2, z = ln 3 -> 3/4, z = -ln 3 -> 1/4.
"""
from __future__ import annotations

import math

import pytest
import torch

from bench.plugins.method import LabelStore, TrainState
from bench.plugins.registry import METHODS

LN3 = math.log(3.0)


def neg_log(x: float) -> float:
    return -math.log(x + 1e-5)


def entropy_term(p: float, alpha: float) -> float:
    return -alpha * (p * neg_log(p) + (1 - p) * neg_log(1 - p))


def run(method, logits, labels, state=None):
    z = torch.tensor(logits, requires_grad=True)
    loss = method.loss(z, torch.tensor(labels, dtype=torch.int8), state)
    loss.backward()
    return float(loss.detach()), z.grad


def test_em_positive_unannotated_and_negative_entries():
    method = METHODS.get("em")()
    loss, grad = run(method, [[LN3, 0.0, -LN3]], [[1, 0, -1]])
    expected = (neg_log(0.75) + entropy_term(0.5, 0.2) + neg_log(0.75)) / 3
    assert loss == pytest.approx(expected, rel=1e-6)
    # the entropy is largest at p = 1/2: its gradient there is zero (nothing detached)
    assert abs(float(grad[0, 1])) < 1e-7
    # d/dz neg_log(p) = -(1 - p) p / (p + eps) / 3 at p = 3/4
    assert float(grad[0, 0]) == pytest.approx(-(0.25 * 0.75) / (0.75 + 1e-5) / 3, rel=1e-5)


def test_em_entropy_gradient_pushes_towards_one_half():
    method = METHODS.get("em")(alpha=0.5)
    # p = 3/4 un-annotated: d(-alpha H)/dp = alpha * log((p + e) / (1 - p + e)) + alpha * e-terms
    p, e = 0.75, 1e-5
    dh_dp = -math.log(p + e) - p / (p + e) + math.log(1 - p + e) + (1 - p) / (1 - p + e)
    expected = -0.5 * dh_dp * p * (1 - p)
    loss, grad = run(method, [[LN3]], [[0]])
    assert loss == pytest.approx(entropy_term(0.75, 0.5), rel=1e-6)
    assert float(grad[0, 0]) == pytest.approx(expected, rel=1e-5)
    assert float(grad[0, 0]) > 0  # gradient descent lowers the logit towards p = 1/2


def test_em_official_compat_refuses_annotated_negatives():
    with pytest.raises(ValueError, match="asserts"):
        run(METHODS.get("em")(official_compat=True), [[0.0, 0.0]], [[1, -1]])


def test_em_presets_carry_the_official_alphas():
    assert METHODS.get("em")().alpha == 0.2
    assert METHODS.get("em-coco")().alpha == 0.1
    assert METHODS.get("em-cub")().alpha == 0.01
    apl = {name: METHODS.get(name)() for name in ("em-apl", "em-apl-coco", "em-apl-nuswide", "em-apl-cub")}
    assert [(m.alpha, m.beta, m.warmup_epoch, m.neg_proportion) for m in apl.values()] == [
        (0.2, 0.02, 5, 0.9), (0.1, 0.9, 5, 0.9), (0.1, 0.2, 4, 0.9), (0.01, 0.4, 3, 0.9)]


def test_em_apl_soft_labels_given_in_state():
    method = METHODS.get("em-apl")(beta=0.5)
    state = TrainState(extra={"apl_soft_labels": torch.tensor([[float("nan"), 0.1, float("nan")]])})
    loss, _ = run(method, [[LN3, -LN3, 0.0]], [[1, 0, 0]], state)
    apl = 0.5 * (0.1 * neg_log(0.25) + 0.9 * neg_log(0.75))
    assert loss == pytest.approx((neg_log(0.75) + apl + entropy_term(0.5, 0.2)) / 3, rel=1e-6)


def test_em_apl_official_compat_reads_negatives_as_soft_label_one():
    loss, _ = run(METHODS.get("em-apl")(official_compat=True, beta=0.5), [[-LN3]], [[-1]])
    assert loss == pytest.approx(0.5 * neg_log(0.25), rel=1e-6)
    loss, _ = run(METHODS.get("em-apl")(beta=0.5), [[-LN3]], [[-1]])
    assert loss == pytest.approx(neg_log(0.75), rel=1e-6)


# Pseudo-labelling: 6 training rows, 2 classes, 3 epochs, warm-up 1, neg_proportion 0.9.
# Class 0 has 4 un-annotated rows (1..4): n_0 = int(0.9 * 4 / 2) = 1 per round.
# Class 1 has 5 (0, 2..5):                 n_1 = int(0.9 * 5 / 2) = 2 per round.
LABELS = [[1, 0], [0, 1], [0, 0], [0, 0], [0, 0], [1, 0]]
EPOCH1 = [[0.0, -3.0], [-1.0, 0.0], [-2.0, -1.0], [0.5, -2.0], [-0.5, -4.0], [0.0, 0.5]]
EPOCH2 = [[0.0, -3.0], [-2.5, 0.0], [-2.0, -1.0], [0.5, -2.0], [-4.0, 2.0], [0.0, -5.0]]


def _state(epoch: int, steps_per_epoch: int = 2) -> TrainState:
    return TrainState(epoch=epoch, num_epochs=3, steps_per_epoch=steps_per_epoch,
                      label_store=LabelStore(torch.tensor(LABELS, dtype=torch.int8)))


def _epoch(method, state, logits, batches=((0, 1, 2), (3, 4, 5))):
    method.on_epoch_start(state)
    for rows in batches:
        state.indices = torch.tensor(rows)
        run(method, [logits[r] for r in rows], [LABELS[r] for r in rows], state)


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def test_em_apl_pseudo_labels_the_smallest_predictions_per_class():
    method = METHODS.get("em-apl")(warmup_epoch=1)
    _epoch(method, _state(1), EPOCH1)
    method.on_epoch_start(_state(2))
    soft = method.soft_labels
    # class 0: un-annotated rows 1..4 with z -1, -2, 0.5, -0.5: the smallest is row 2
    # class 1: un-annotated rows 0, 2, 3, 4, 5 with z -3, -1, -2, -4, 0.5: the two smallest are rows 4, 0
    labelled = {(r, c) for r in range(6) for c in range(2) if not math.isnan(float(soft[r, c]))}
    assert labelled == {(2, 0), (4, 1), (0, 1)}
    assert float(soft[2, 0]) == pytest.approx(sigmoid(-2.0), rel=1e-6)
    assert float(soft[4, 1]) == pytest.approx(sigmoid(-4.0), rel=1e-6)
    # epoch 2 trains them with the APL term; the second round picks from what is left
    state = _state(2)
    state.indices = torch.tensor([2])
    loss, _ = run(method, [EPOCH2[2]], [LABELS[2]], state)
    s = sigmoid(-2.0)
    apl = 0.02 * (s * neg_log(sigmoid(-2.0)) + (1 - s) * neg_log(1 - sigmoid(-2.0)))
    assert loss == pytest.approx((apl + entropy_term(sigmoid(-1.0), 0.2)) / 2, rel=1e-6)
    _epoch(method, _state(2), EPOCH2)
    method.on_epoch_start(_state(3))
    labelled = {(r, c) for r in range(6) for c in range(2) if not math.isnan(float(method.soft_labels[r, c]))}
    # class 0 left: rows 1, 3, 4 with z -2.5, 0.5, -4 -> row 4; class 1 left: rows 2, 3, 5 with -1, -2, -5 -> 5, 3
    assert labelled == {(2, 0), (4, 1), (0, 1), (4, 0), (5, 1), (3, 1)}
    assert float(method.soft_labels[5, 1]) == pytest.approx(sigmoid(-5.0), rel=1e-6)


def test_em_apl_no_labelling_before_the_warm_up_or_after_the_last_epoch():
    method = METHODS.get("em-apl")(warmup_epoch=2)
    _epoch(method, _state(1), EPOCH1)
    method.on_epoch_start(_state(2))  # epoch 1 < warm-up 2
    assert method.soft_labels is None
    # num_epochs - warmup_epoch = 1 round: n_0 = int(0.9 * 4) = 3, n_1 = int(0.9 * 5) = 4
    _epoch(method, _state(2), EPOCH2)
    method.on_epoch_start(_state(3))
    assert int((~torch.isnan(method.soft_labels)).sum()) == 7
    _epoch(method, _state(3), EPOCH2)
    before = method.soft_labels.clone()
    method.on_epoch_start(_state(4))  # after the last epoch: never used, not computed
    assert torch.equal(torch.isnan(before), torch.isnan(method.soft_labels))


def test_em_apl_official_compat_single_batch_epoch_never_labels():
    for compat, expected in ((True, 0), (False, 3)):
        method = METHODS.get("em-apl")(warmup_epoch=1, official_compat=compat)
        _epoch(method, _state(1, steps_per_epoch=1), EPOCH1, batches=((0, 1, 2, 3, 4, 5),))
        method.on_epoch_start(_state(2, steps_per_epoch=1))
        found = 0 if method.soft_labels is None else int((~torch.isnan(method.soft_labels)).sum())
        assert found == expected


def test_em_apl_refuses_to_continue_without_its_pseudo_labels():
    method = METHODS.get("em-apl")(warmup_epoch=1)
    with pytest.raises(RuntimeError, match="not in checkpoints"):
        method.on_epoch_start(_state(2))


def test_em_apl_state_dict_round_trip():
    method = METHODS.get("em-apl")(warmup_epoch=1)
    _epoch(method, _state(1), EPOCH1)
    method.on_epoch_start(_state(2))
    other = METHODS.get("em-apl")(warmup_epoch=1)
    other.load_state_dict(method.state_dict())
    assert torch.equal(torch.isnan(other.soft_labels), torch.isnan(method.soft_labels))


def test_em_apl_refuses_multi_process_training():
    assert METHODS.get("em-apl")().compatible("linear", object, processes=2) is not None
    assert METHODS.get("em-apl")().compatible("linear", object, processes=1) is None


def test_em_apl_diagnostics_and_a_new_run_start_afresh():
    method = METHODS.get("em-apl")(warmup_epoch=1)
    _epoch(method, _state(1), EPOCH1)
    _epoch(method, _state(2), EPOCH2)
    method.on_epoch_start(_state(3))
    apl = method.run_diagnostics()["apl"]
    assert (apl["rounds"], apl["pseudo_negatives"], apl["unannotated"]) == (2, 6, 9)
    assert apl["summary"].startswith("2 rounds made 6 pseudo-negatives (66.7% of 9")
    _epoch(method, _state(1), EPOCH1)  # the same instance trains a second run: nothing carries over
    assert method.soft_labels is None and method.run_diagnostics()["apl"]["rounds"] == 0


def test_em_apl_notes_a_run_too_short_to_pseudo_label():
    method = METHODS.get("em-apl")()
    method.on_epoch_start(TrainState(epoch=1, num_epochs=5))
    assert method.run_notes() == [
        "em-apl: 5 epochs <= warmup_epoch 5, so no pseudo-label was made: the run is plain EM"]
    method.on_epoch_start(TrainState(epoch=1, num_epochs=10))
    assert method.run_notes() == []


def test_em_apl_notes_a_run_that_stopped_before_its_planned_epochs():
    method = METHODS.get("em-apl")(warmup_epoch=1)
    _epoch(method, _state(1), EPOCH1)
    _epoch(method, _state(2), EPOCH2)  # num_epochs 3, but training ends after epoch 2
    (note,) = method.run_notes()
    assert note.startswith("em-apl: training stopped after epoch 2 of the 3 that APL's per-round counts assume "
                           "(APL: 1 round made 3 pseudo-negatives")
