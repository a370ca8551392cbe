"""``selective`` forward + backward at B=64, C=9,600 (OpenImages scale), float32, CPU, against the
faithful official algorithm (masks, pow, log, full stable argsort of the flattened un-annotated
entries; tests/methods/test_methods_official.py). Goal: at least 5x faster; compare the two rows of group
``selective-B64-C9600``. Run: ``OMP_NUM_THREADS=1 python -m pytest benchmarks/test_selective_speed.py``.

Group ``omega-l-B64-C9600``: Omega_L alone, the K*B = 320 smallest of the 614,400 flattened entries by
``bench.stable_smallest_mask`` (its sampled path for long 1-D input) against its full top-K path (the
same values as one row). Goal: at least 2x faster, the same mask.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "methods"))

from test_methods_official import csl_targets, official_partial_selective_loss  # noqa: E402

from bench import stable_smallest_mask  # noqa: E402
from bench.plugins.method import TrainState  # noqa: E402
from bench.plugins.registry import METHODS  # noqa: E402

ROWS, CLASSES = 64, 9600


@pytest.fixture(scope="module")
def batch():
    """OpenImages-like: ~0.5% positives, ~1.5% annotated negatives, the rest un-annotated."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(ROWS, CLASSES, generator=generator) * 3 - 2
    draw = torch.rand(ROWS, CLASSES, generator=generator)
    labels = torch.zeros(ROWS, CLASSES, dtype=torch.int8)
    labels[draw < 0.005] = 1
    labels[(draw >= 0.005) & (draw < 0.02)] = -1
    prior = torch.rand(CLASSES, generator=generator) * 0.1
    return logits, labels, prior


def ours(batch) -> torch.Tensor:
    logits, labels, prior = batch
    z = logits.clone().requires_grad_(True)
    loss = METHODS.get("selective")().loss(z, labels, TrainState(artifacts={"class_prior": prior}))
    loss.backward()
    return loss.detach()


def official(batch) -> torch.Tensor:
    logits, labels, prior = batch
    z = logits.clone().requires_grad_(True)
    loss = official_partial_selective_loss(z, csl_targets(labels), "selective", prior=prior)
    loss.backward()
    return loss.detach()


def test_same_value(batch):
    torch.testing.assert_close(ours(batch), official(batch), rtol=1e-6, atol=0.0)


@pytest.mark.benchmark(group="selective-B64-C9600")
def test_selective_ours(benchmark, batch):
    benchmark(ours, batch)


@pytest.mark.benchmark(group="selective-B64-C9600")
def test_selective_official_baseline(benchmark, batch):
    benchmark(official, batch)


@pytest.fixture(scope="module")
def ranked(batch):
    """The un-annotated entries' clipped q, +inf elsewhere, flattened (selective's Omega_L input)."""
    logits, labels, _ = batch
    q = 1 - torch.sigmoid(logits)
    return torch.where(labels == 0, q, torch.inf).reshape(-1)


def test_sampled_omega_l_is_the_full_path(ranked):
    assert torch.equal(stable_smallest_mask(ranked, 5 * ROWS), stable_smallest_mask(ranked.view(1, -1), 5 * ROWS)[0])


@pytest.mark.benchmark(group="omega-l-B64-C9600")
def test_omega_l_sampled(benchmark, ranked):
    benchmark(stable_smallest_mask, ranked, 5 * ROWS)


@pytest.mark.benchmark(group="omega-l-B64-C9600")
def test_omega_l_full_topk_baseline(benchmark, ranked):
    benchmark(stable_smallest_mask, ranked.view(1, -1), 5 * ROWS)
