"""Hand-worked cases for p-asl and its presets on a 2x3 batch, computed with plain ``math``.

Batch (our encoding):  logits [[2, -1, 0.5], [0, 1.5, -2]],  labels [[1, 0, -1], [0, 0, 1]].
Un-annotated entries and their q = 1 - sigmoid(z): (0,1) 0.731, (1,0) 0.5, (1,1) 0.182, so the
stable ascending order is (1,1), (1,0), (0,1).
"""
from __future__ import annotations

import math
import sys

import pytest
import torch

from bench import PriorSpec
from bench.core.params import ParamError
from bench.plugins.method import TrainState
from bench.plugins.registry import METHODS

LOGITS = [[2.0, -1.0, 0.5], [0.0, 1.5, -2.0]]
LABELS = [[1, 0, -1], [0, 0, 1]]
PRIOR = [0.1, 0.6, 0.3]
CE = dict(gamma_pos=0.0, gamma_neg=0.0, gamma_unann=0.0)


def sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def ce_terms(weights: dict[tuple[int, int], float]) -> float:
    """sum of -w * log(p or q) over the listed entries (positives use p, the rest q)."""
    total = 0.0
    for (i, j), w in weights.items():
        p = sig(LOGITS[i][j])
        total += -w * math.log(p if LABELS[i][j] == 1 else 1 - p)
    return total


ANNOTATED = {(0, 0): 1.0, (0, 2): 1.0, (1, 2): 1.0}


def run(name: str, prior=PRIOR, **params) -> float:
    method = METHODS.get(name)(**params)
    state = TrainState(artifacts={"class_prior": torch.tensor(prior)})
    return method.loss(torch.tensor(LOGITS), torch.tensor(LABELS, dtype=torch.int8), state).item()


def test_negative_ignore_wce_presets():
    everything = {**ANNOTATED, (0, 1): 1.0, (1, 0): 1.0, (1, 1): 1.0}
    assert run("negative") == pytest.approx(ce_terms(everything), rel=1e-6)
    assert run("ignore") == pytest.approx(ce_terms(ANNOTATED), rel=1e-6)
    row_weight = {0: 1 / 3 + 1, 1: 1 / 2 + 1}  # row 0 has 2 annotated entries, row 1 has 1
    assert run("wce") == pytest.approx(ce_terms({k: row_weight[k[0]] for k in ANNOTATED}), rel=1e-6)


def test_asl_preset_focusing_and_clip():
    expected = 0.0
    for i in range(2):
        for j in range(3):
            p = sig(LOGITS[i][j])
            if LABELS[i][j] == 1:
                expected += -math.log(p)
            else:
                q = min(1 - p + 0.05, 1.0)
                expected += -math.log(q) * (1 - q) ** 4
    assert run("asl") == pytest.approx(expected, rel=1e-5)


def test_selective_focusing_exponents():
    """Official defaults g+ 0, g- 1, gu 2: negatives weighted by p, un-annotated by p^2."""
    p = lambda i, j: sig(LOGITS[i][j])  # noqa: E731
    expected = (-math.log(p(0, 0)) - math.log(1 - p(0, 2)) * p(0, 2) - math.log(p(1, 2))
                - math.log(1 - p(0, 1)) * p(0, 1) ** 2)  # K=1 batch scope keeps only (0,1) of U
    assert run("selective", likelihood_topk=1, prior_threshold=None) == pytest.approx(expected, rel=1e-6)


def test_batch_versus_sample_scope():
    # batch: K*B = 2 smallest q's of the flattened batch are (1,1) and (1,0), both in row 1
    batch = run("p-asl", partial_loss_mode="selective", likelihood_topk=1, prior_threshold=None, **CE)
    assert batch == pytest.approx(ce_terms({**ANNOTATED, (0, 1): 1.0}), rel=1e-6)
    # sample: the smallest q of each row: (0,1) in row 0, (1,1) in row 1
    sample = run("p-asl", partial_loss_mode="selective", likelihood_topk=1, prior_threshold=None,
                 topk_scope="sample", **CE)
    assert sample == pytest.approx(ce_terms({**ANNOTATED, (1, 0): 1.0}), rel=1e-6)


def test_variants():
    common = dict(partial_loss_mode="selective", likelihood_topk=1, prior_threshold=0.5, **CE)
    # prior: class 1 (prior 0.6 > 0.5) loses (0,1) and (1,1); likelihood: (1,1) and (1,0)
    assert run("p-asl", variant="prior", **common) == pytest.approx(ce_terms({**ANNOTATED, (1, 0): 1.0}), rel=1e-6)
    assert run("p-asl", variant="likelihood", **common) == pytest.approx(ce_terms({**ANNOTATED, (0, 1): 1.0}), rel=1e-6)
    assert run("p-asl", variant="union", **common) == pytest.approx(ce_terms(ANNOTATED), rel=1e-6)
    soft = run("p-asl", variant="soft", soft_alpha=2.0, **common)  # (0,1) outside Omega_L: exp(-2 * 0.6)
    assert soft == pytest.approx(ce_terms({**ANNOTATED, (0, 1): math.exp(-1.2)}), rel=1e-6)


def test_prior_threshold_zero_is_a_threshold_none_is_off():
    zero = run("p-asl", partial_loss_mode="selective", likelihood_topk=0, prior_threshold=0.0, **CE)
    assert zero == pytest.approx(run("ignore"), rel=1e-6)  # every prior > 0: all U ignored
    off = run("p-asl", partial_loss_mode="selective", likelihood_topk=0, prior_threshold=None, **CE)
    assert off == pytest.approx(run("negative"), rel=1e-6)


def test_k_zero_without_prior_is_negative_mode_with_gradients():
    logits = torch.randn(5, 7, generator=torch.Generator().manual_seed(0))
    labels = torch.randint(-1, 2, (5, 7), generator=torch.Generator().manual_seed(1)).to(torch.int8)
    grads = []
    for method in (METHODS.get("p-asl")(partial_loss_mode="selective", likelihood_topk=0, prior_threshold=None),
                   METHODS.get("p-asl")(partial_loss_mode="negative")):
        z = logits.clone().requires_grad_(True)
        method.loss(z, labels).backward()
        grads.append(z.grad)
    assert torch.equal(grads[0], grads[1])


def test_ties_follow_stable_sort_order():
    """All-equal logits: every q ties, so the first K*B un-annotated entries in row-major order go."""
    method = METHODS.get("p-asl")(partial_loss_mode="selective", likelihood_topk=1, prior_threshold=None, **CE)
    labels = torch.tensor([[0, 1, 0], [0, 0, -1]], dtype=torch.int8)
    ignored = method.ignored_mask(torch.zeros(2, 3), labels)
    assert ignored.tolist() == [[True, False, True], [False, False, False]]
    sample = METHODS.get("p-asl")(partial_loss_mode="selective", likelihood_topk=1, prior_threshold=None,
                                  topk_scope="sample")
    assert sample.ignored_mask(torch.zeros(2, 3), labels).tolist() == [[True, False, False], [True, False, False]]


def test_stable_smallest_mask_helper():
    helper = sys.modules[METHODS.get("p-asl").__module__].stable_smallest_mask
    values = torch.tensor([3.0, 1.0, 1.0, 2.0, 1.0, math.inf])
    assert helper(values, 2).nonzero().flatten().tolist() == [1, 2]
    assert helper(values, 4).nonzero().flatten().tolist() == [1, 2, 3, 4]
    assert helper(values, 9).nonzero().flatten().tolist() == [0, 1, 2, 3, 4]
    assert not helper(values, 0).any()


def test_mean_reduction_and_required_artifacts():
    assert run("negative", reduction="mean") == pytest.approx(run("negative") / 6, rel=1e-6)
    assert METHODS.get("selective")().required_artifacts() == {"class_prior": PriorSpec("ignore", "posthoc")}
    assert METHODS.get("selective")(prior_estimator="running").required_artifacts() == {
        "class_prior": PriorSpec("ignore", "running")}
    assert METHODS.get("selective")(prior_threshold=None).required_artifacts() == {}
    assert list(METHODS.get("selective")(prior_threshold=None, variant="soft").required_artifacts()) == ["class_prior"]
    assert METHODS.get("selective")(variant="likelihood").required_artifacts() == {}
    assert METHODS.get("negative")().required_artifacts() == {}


def test_bad_prior_and_fixed_preset_mode_are_clear_errors():
    with pytest.raises(ValueError, match="needs the artifact 'class_prior'"):
        METHODS.get("selective")().loss(torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.int8))
    with pytest.raises(ValueError, match="class_prior has 2 values"):
        run("selective", prior=[0.1, 0.2])
    with pytest.raises(ParamError, match="partial_loss_mode"):
        METHODS.get("ignore")(partial_loss_mode="negative")
    with pytest.raises(ParamError, match="parameter 'mode' is now called 'partial_loss_mode'"):
        METHODS.get("p-asl")(mode="selective")


@pytest.mark.parametrize("selector, message", [
    ("p-asl[gamma_neg=-1]", "method 'p-asl': parameter 'gamma_neg' must be in [0, inf); got -1.0"),
    ("p-asl[clip=2]", "method 'p-asl': parameter 'clip' must be in [0, 1); got 2.0"),
    ("p-asl[clip=-0.5]", "method 'p-asl': parameter 'clip' must be in [0, 1); got -0.5"),
    ("p-asl[clip=1]", "method 'p-asl': parameter 'clip' must be in [0, 1); got 1.0"),
    ("selective[likelihood_topk=-3]", "method 'selective': parameter 'likelihood_topk' must be in [0, inf); got -3"),
    ("p-asl[alpha_neg=-1e30]", "method 'p-asl': parameter 'alpha_neg' must be in [0, inf); got -1e+30"),
    ("p-asl[alpha_unann=inf]", "method 'p-asl': parameter 'alpha_unann' must be in [0, inf); got inf"),
    ("asl[gamma_pos=nan]", "method 'asl': parameter 'gamma_pos' must be in [0, inf); got nan"),
    ("selective[prior_threshold=1.5]", "method 'selective': parameter 'prior_threshold' must be in [0, 1]; got 1.5"),
    ("selective[soft_alpha=-2]", "method 'selective': parameter 'soft_alpha' must be in [0, inf); got -2.0"),
])
def test_out_of_range_parameters_fail_when_the_selector_is_resolved(selector, message):
    """Before: accepted, and trained a loss the formula does not define (e.g. (1 - pt)^-1)."""
    from bench.runs.config import RunConfig, resolve_config
    from bench.runs.resolve import get_method

    with pytest.raises(ParamError) as info:
        get_method(selector)
    assert str(info.value) == message
    with pytest.raises(ParamError, match="must be in"):
        resolve_config(RunConfig(selector, "scene"))  # before any data is loaded


def test_range_edges_stay_accepted():
    method = METHODS.get("p-asl")(clip=0.999, gamma_pos=0.0, alpha_neg=0.0, likelihood_topk=0, prior_threshold=1.0,
                                  soft_alpha=0.0)
    assert method.clip == 0.999 and method.prior_threshold == 1.0
    assert METHODS.get("selective")(prior_threshold=0.0).prior_threshold == 0.0
    assert METHODS.get("selective")(prior_threshold="none").prior_threshold is None
