"""Selective says what it ignored (issue 13 item 3): the coverage figures of Omega_P, Omega_L and
their union over the training steps, and one note per degeneration, on hand-worked batches.

Batch 1 (as tests/methods/test_methods_p_asl.py): logits [[2, -1, 0.5], [0, 1.5, -2]], labels
[[1, 0, -1], [0, 0, 1]]. Un-annotated entries (0,1), (1,0), (1,1) with q = 0.731, 0.5, 0.182.
Batch 2: logits [[0, 0, 3], [1, -1, 0]], labels [[0, -1, 0], [1, 0, 0]]: un-annotated (0,0),
(0,2), (1,1), (1,2) with q = 0.5, 0.047, 0.731, 0.5.
"""
from __future__ import annotations

import pytest
import torch

from bench.plugins.method import TrainState
from bench.runs.resolve import get_method

BATCHES = [
    ([[2.0, -1.0, 0.5], [0.0, 1.5, -2.0]], [[1, 0, -1], [0, 0, 1]]),
    ([[0.0, 0.0, 3.0], [1.0, -1.0, 0.0]], [[0, -1, 0], [1, 0, 0]]),
]
PRIOR = [0.1, 0.6, 0.3]


def _train(selector: str, batches=BATCHES):
    method = get_method(selector)
    method.start_run()
    state = TrainState(artifacts={"class_prior": PRIOR})
    for logits, labels in batches:
        method.loss(torch.tensor(logits), torch.tensor(labels, dtype=torch.int8), state)
    return method


def test_coverage_figures_by_hand():
    # eta 0.5: Omega_P = class 1 -> batch 1 {(0,1), (1,1)}, batch 2 {(1,1)}: 3 of 7.
    # K 1, B 2 -> the 2 smallest q: batch 1 {(1,1), (1,0)}, batch 2 {(0,2), then (0,0) before (1,2) at
    # q 0.5 in flat order}: 4 of 7. Union: batch 1 all 3, batch 2 {(0,0), (0,2), (1,1)}: 6 of 7.
    figures = _train("selective[prior_threshold=0.5,likelihood_topk=1]").run_diagnostics()["selective"]
    assert figures["omega_p"] == pytest.approx(3 / 7)
    assert figures["omega_l"] == pytest.approx(4 / 7)
    assert figures["union"] == pytest.approx(6 / 7)
    assert (figures["classes_above_eta"], figures["num_classes"], figures["eta"], figures["k"]) == (1, 3, 0.5, 1)
    assert (figures["steps"], figures["unannotated_entries"]) == (2, 7)
    assert figures["summary"] == ("selective: Omega_P 42.9%, Omega_L 57.1% (K 1, batch), union 85.7% of "
                                  "un-annotated training entries; 1/3 classes above eta 0.5")
    assert _train("selective[prior_threshold=0.5,likelihood_topk=1]").run_notes() == []


def test_sample_scope_and_rules_off():
    # K 1 per row: batch 1 {(0,1), (1,1)}, batch 2 {(0,2), (1,2)}; prior rule off.
    method = _train("selective[prior_threshold=none,likelihood_topk=1,topk_scope=sample]")
    figures = method.run_diagnostics()["selective"]
    assert figures["omega_p"] is None and figures["classes_above_eta"] is None
    assert figures["omega_l"] == figures["union"] == pytest.approx(4 / 7)
    assert "Omega_P off" in figures["summary"] and "(K 1, sample)" in figures["summary"]


def test_omega_p_covering_every_class_is_noted():
    method = _train("selective")  # eta 0.05: all three priors are above it
    figures = method.run_diagnostics()["selective"]
    assert figures["omega_p"] == figures["union"] == 1.0 and figures["classes_above_eta"] == 3
    assert method.run_notes() == ["selective degenerated: Omega_P covers every class (all 3 class priors above "
                                  "eta 0.05), so it equals ignore with focusing"]


def test_union_covering_almost_everything_is_noted():
    # eta 0.5 and K 2 (4 per batch of 2 rows): batch 1 union all 3, batch 2 all 4: 7 of 7.
    method = _train("selective[prior_threshold=0.5,likelihood_topk=2]")
    assert method.run_diagnostics()["selective"]["union"] == 1.0
    assert method.run_notes() == ["selective degenerated: Omega_P and Omega_L together cover 100.0% (>= 99%) of "
                                  "the un-annotated training entries, so it is close to ignore with focusing"]


def test_rules_that_never_fire_are_noted():
    method = _train("selective[prior_threshold=0.7,likelihood_topk=0]")  # no prior above 0.7, no top-K
    figures = method.run_diagnostics()["selective"]
    assert figures["union"] == 0 and figures["omega_p"] == 0 and figures["classes_above_eta"] == 0
    assert method.run_notes() == ["selective degenerated: neither rule ever fired (no un-annotated entry in "
                                  "Omega_P or Omega_L), so it equals negative mode with the same focusing"]


def test_start_run_forgets_the_previous_run_and_other_modes_say_nothing():
    method = _train("selective")
    method.start_run()
    assert method.run_diagnostics() == {} and method.run_notes() == []
    method.loss(torch.tensor(BATCHES[1][0]), torch.tensor(BATCHES[1][1], dtype=torch.int8),
                TrainState(artifacts={"class_prior": PRIOR}))
    assert method.run_diagnostics()["selective"]["unannotated_entries"] == 4
    for selector in ("ignore", "negative", "asl", "p-asl"):
        assert _train(selector).run_diagnostics() == {} and _train(selector).run_notes() == []


def test_weights_and_ignored_mask_record_nothing():
    method = get_method("selective")
    method.start_run()
    state = TrainState(artifacts={"class_prior": PRIOR})
    logits, labels = torch.tensor(BATCHES[0][0]), torch.tensor(BATCHES[0][1], dtype=torch.int8)
    method.ignored_mask(logits, labels, state)
    method.weights(logits, labels, state)
    assert method.run_diagnostics() == {}


def test_recording_leaves_the_loss_and_gradient_unchanged():
    """The recorded step gives the loss of the same weights computed without recording."""
    method = get_method("selective[prior_threshold=0.5,likelihood_topk=1]")
    state = TrainState(artifacts={"class_prior": PRIOR})
    logits = torch.tensor(BATCHES[0][0], requires_grad=True)
    labels = torch.tensor(BATCHES[0][1], dtype=torch.int8)
    weights = method.weights(logits, labels, state)
    loss = method.loss(logits, labels, state)
    loss.backward()
    plain = logits.detach().clone().requires_grad_(True)
    p = torch.sigmoid(plain)
    pos, neg = labels == 1, labels == -1
    pt = torch.where(pos, p, 1 - p)
    gamma = torch.where(pos, 0.0, torch.where(neg, 1.0, 2.0))
    expected = -(pt.clamp(min=1e-8).log() * weights * (1 - pt.detach()) ** gamma).sum()
    expected.backward()
    assert torch.equal(loss.detach(), expected.detach()) and torch.equal(logits.grad, plain.grad)


def test_full_labels_say_there_was_nothing_to_ignore():
    method = _train("selective", [([[2.0, -1.0, 0.5]], [[1, -1, -1]])])
    figures = method.run_diagnostics()["selective"]
    assert figures["union"] is None and figures["unannotated_entries"] == 0
    assert figures["summary"] == ("selective: no un-annotated training entry, nothing to ignore; 3/3 classes above "
                                  "eta 0.05")
    assert method.run_notes() == ["selective degenerated: no training entry is un-annotated, so it equals negative "
                                  "and ignore mode with the same focusing"]


def test_an_empty_batch_takes_part_and_adds_nothing():
    """The finetune loop calls the loss with no rows when a process's images are all unreadable."""
    for selector in ("selective", "ll-r[delta_rel=0.5,reduction=sum]"):  # a mean of nothing is NaN, discarded
        method = get_method(selector)
        method.start_run()
        state = TrainState(epoch=3, artifacts={"class_prior": PRIOR})
        loss = method.loss(torch.zeros(0, 3), torch.zeros(0, 3, dtype=torch.int8), state)
        assert float(loss) == 0.0
        assert method.run_diagnostics().get("selective", {}).get("unannotated_entries", 0) == 0


def test_copies_of_the_method_count_into_the_run():
    """The trainer may train deep copies of the method (one per lr / weight-decay candidate)."""
    import copy

    method = get_method("selective[prior_threshold=0.5,likelihood_topk=1]")
    method.start_run()
    state = TrainState(artifacts={"class_prior": PRIOR})
    for logits, labels in BATCHES:
        copy.deepcopy(method).loss(torch.tensor(logits), torch.tensor(labels, dtype=torch.int8), state)
    assert method.run_diagnostics()["selective"]["unannotated_entries"] == 7
    method.start_run()
    copy.deepcopy(method)
    assert method.run_diagnostics() == {}
