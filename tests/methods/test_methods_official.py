"""A faithful, straightforward re-implementation of the official CSL ``PartialSelectiveLoss``
(docs/methods.md §1.2-§1.4: CSL target encoding, masks, pow, log, a full stable argsort of
the flattened un-annotated entries), and tests that ``p-asl`` and its presets match it on random
inputs. benchmarks/test_selective_speed.py imports ``official_partial_selective_loss`` from here."""
from __future__ import annotations

import pytest
import torch

from bench.plugins.method import TrainState
from bench.plugins.registry import METHODS


def official_partial_selective_loss(logits: torch.Tensor, targets: torch.Tensor, mode: str = "negative",
                                    gamma_pos: float = 0.0, gamma_neg: float = 1.0, gamma_unann: float = 2.0,
                                    alpha_pos: float = 1.0, alpha_neg: float = 1.0, alpha_unann: float = 1.0,
                                    clip: float = 0.0, likelihood_topk: int = 5, prior: torch.Tensor | None = None,
                                    prior_threshold: float = 0.05) -> torch.Tensor:
    """The official loss on CSL-encoded ``targets`` (1 positive, 0 negative, -1 un-annotated)."""
    eps = 1e-8
    t_pos = (targets == 1).float()
    t_neg = (targets == 0).float()
    t_unann = (targets == -1).float()
    xs_pos = torch.sigmoid(logits)
    xs_neg = 1.0 - xs_pos
    if clip > 0:
        xs_neg = (xs_neg + clip).clamp(max=1)
    with torch.no_grad():
        weights = torch.ones_like(logits)
        if mode == "ignore":
            weights[targets == -1] = 0
        elif mode == "ignore_normalize_classes":
            n_annotated = 1 + (targets != -1).sum(dim=1).float()
            weights = (1.0 / n_annotated + 1.0).unsqueeze(1).repeat(1, logits.shape[1])
            weights[targets == -1] = 0
        elif mode == "selective":
            if prior is not None and prior_threshold:
                weights[:, torch.nonzero(prior > prior_threshold).flatten()] = 0
                weights = (weights + (targets != -1).float()).bool().float()
            flat_weights = weights.flatten()
            unann_index = torch.nonzero(targets.flatten() == -1).flatten()
            order = torch.argsort(xs_neg.flatten()[unann_index], stable=True)
            flat_weights[unann_index[order[: likelihood_topk * logits.shape[0]]]] = 0
            weights = flat_weights.view_as(logits)
    bce_pos = alpha_pos * t_pos * torch.log(xs_pos.clamp(min=eps))
    bce_neg = alpha_neg * t_neg * torch.log(xs_neg.clamp(min=eps))
    bce_unann = alpha_unann * t_unann * torch.log(xs_neg.clamp(min=eps))
    bce = bce_pos + bce_neg + bce_unann
    with torch.no_grad():
        focus = torch.pow(1 - xs_pos * t_pos - xs_neg * (t_neg + t_unann),
                          gamma_pos * t_pos + gamma_neg * t_neg + gamma_unann * t_unann)
    return -(bce * focus * weights).sum()


def csl_targets(labels: torch.Tensor) -> torch.Tensor:
    """Our encoding (1 / -1 / 0) to CSL's (1 positive / 0 negative / -1 un-annotated)."""
    return torch.where(labels == 0, -1, torch.where(labels == -1, 0, 1)).long()


OFFICIAL_MODE = {"negative": "negative", "ignore": "ignore", "wce": "ignore_normalize_classes",
                 "selective": "selective"}


def random_batch(seed: int, rows: int = 16, classes: int = 12, scale: float = 3.0):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(rows, classes, generator=generator) * scale
    labels = torch.randint(-1, 2, (rows, classes), generator=generator).to(torch.int8)
    prior = torch.rand(classes, generator=generator) * 0.4
    return logits, labels, prior


def compare(method, logits, labels, prior):
    params = method.params
    kwargs = {k: params[k] for k in ("gamma_pos", "gamma_neg", "gamma_unann", "alpha_pos", "alpha_neg",
                                    "alpha_unann", "clip", "likelihood_topk", "prior_threshold")}
    ours_z = logits.clone().requires_grad_(True)
    ref_z = logits.clone().requires_grad_(True)
    ours = method.loss(ours_z, labels, TrainState(artifacts={"class_prior": prior}))
    ref = official_partial_selective_loss(ref_z, csl_targets(labels), OFFICIAL_MODE[params["partial_loss_mode"]],
                                          prior=prior, **kwargs)
    ours.backward()
    ref.backward()
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours_z.grad, ref_z.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["ignore", "negative", "wce", "asl", "selective", "selective-coco-fpc",
                                  "selective-coco-rpa"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_presets_match_official(name, seed):
    compare(METHODS.get(name)(), *random_batch(seed))


@pytest.mark.parametrize("overrides", [
    dict(partial_loss_mode="selective", clip=0.05, gamma_pos=1.0, alpha_unann=0.5, alpha_neg=2.0),
    dict(partial_loss_mode="selective", likelihood_topk=0),
    dict(partial_loss_mode="selective", likelihood_topk=40, prior_threshold=0.2),
    dict(partial_loss_mode="selective", prior_threshold=None),
    dict(partial_loss_mode="wce", gamma_neg=2.0, clip=0.1),
    dict(partial_loss_mode="ignore", gamma_unann=3.0, alpha_pos=3.0),
])
def test_p_asl_matches_official(overrides):
    compare(METHODS.get("p-asl")(**overrides), *random_batch(7))


def test_selective_matches_official_with_many_ties():
    """Saturated logits and a large clip make most q's tie at 1: the stable order must decide."""
    logits, labels, prior = random_batch(3, rows=8, classes=20, scale=40.0)
    compare(METHODS.get("p-asl")(partial_loss_mode="selective", clip=0.2, likelihood_topk=9, prior_threshold=None),
            logits, labels, prior)
