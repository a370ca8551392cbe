"""``stable_smallest_mask`` (bench/plugins/batch.py): its sampled path for long 1-D inputs gives the
mask of a stable ascending sort, as the full path does, whatever the ties, infinities and order."""
from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bench import stable_smallest_mask
from bench.plugins import batch


def reference(values: torch.Tensor, k: int) -> torch.Tensor:
    """The first k finite entries of a stable ascending sort."""
    order = values.argsort(stable=True)[:k]
    mask = torch.zeros_like(values, dtype=torch.bool)
    mask[order[torch.isfinite(values[order])]] = True
    return mask


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 40_000), k=st.integers(0, 400),
       levels=st.sampled_from([0, 3, 50]), inf_share=st.sampled_from([0.0, 0.5, 0.99, 1.0]),
       sorted_order=st.booleans())
def test_sampled_path_equals_a_stable_sort(seed, n, k, levels, inf_share, sorted_order):
    generator = torch.Generator().manual_seed(seed)
    values = torch.rand(n, generator=generator)
    if levels:  # few distinct values: ties at the k-th smallest
        values = (values * levels).floor() / levels
    if sorted_order:  # the sample sees the largest values only where they are in one block
        values = values.sort(descending=True).values
    values[torch.rand(n, generator=generator) < inf_share] = math.inf
    assert torch.equal(stable_smallest_mask(values, k), reference(values, k))


def test_sampled_path_is_taken_and_falls_back():
    values = torch.rand(64 * 9600, generator=torch.Generator().manual_seed(0))
    assert batch._sampled_smallest_mask(values, 320) is not None
    assert torch.equal(batch._sampled_smallest_mask(values, 320), reference(values, 320))
    assert batch._sampled_smallest_mask(torch.full((10_000,), math.inf), 5) is None
    skewed = torch.ones(100_000)
    skewed[0:61 * 60:61] = 0.0  # the sample's 55 smallest are 0, but only 60 values are: fewer than k
    assert batch._sampled_smallest_mask(skewed, 1500) is None
    assert torch.equal(stable_smallest_mask(skewed, 1500), reference(skewed, 1500))
