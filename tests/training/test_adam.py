"""``PlainAdam`` is ``torch.optim.Adam`` (single-tensor path) bit for bit: coupled L2 on some groups,
none on others, lr dropped between steps, a parameter without a gradient, float32 and float64."""
from __future__ import annotations

import pytest
import torch

from bench.training.adam import PlainAdam


def _params(dtype: torch.dtype) -> list[torch.nn.Parameter]:
    generator = torch.Generator().manual_seed(0)
    return [torch.nn.Parameter(torch.randn(7, 5, generator=generator, dtype=dtype)),
            torch.nn.Parameter(torch.randn(7, generator=generator, dtype=dtype)),
            torch.nn.Parameter(torch.randn(3, generator=generator, dtype=dtype))]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("weight_decay", [0.0, 1e-4, 30.0])
def test_plain_adam_is_torch_adam_bitwise(dtype, weight_decay):
    ours, theirs = _params(dtype), _params(dtype)
    groups = lambda ps: [{"params": ps[:1], "weight_decay": weight_decay},  # noqa: E731
                         {"params": ps[1:2], "weight_decay": 0.0},
                         {"params": ps[2:], "weight_decay": weight_decay, "lr": 0.1}]
    plain = PlainAdam(groups(ours), lr=1e-2)
    reference = torch.optim.Adam(groups(theirs), lr=1e-2, foreach=False)
    generator = torch.Generator().manual_seed(1)
    for step in range(60):
        for optimizer in (plain, reference):
            optimizer.zero_grad(set_to_none=True)
        grads = [torch.randn(p.shape, generator=generator, dtype=dtype) for p in ours]
        for params in (ours, theirs):
            for index, (param, grad) in enumerate(zip(params, grads)):
                if not (index == 2 and step % 3 == 0):  # the third parameter skips every third step
                    param.grad = grad.clone()
        plain.step()
        reference.step()
        if step == 30:
            for optimizer in (plain, reference):
                for group in optimizer.param_groups:
                    group["lr"] *= 0.1
        for a, b in zip(ours, theirs):
            assert torch.equal(a, b), f"step {step}"
    assert plain.state[ours[2]]["step"] == int(reference.state[theirs[2]]["step"]) == 40


def test_zero_grad_drops_gradients():
    param = torch.nn.Parameter(torch.ones(2))
    param.grad = torch.ones(2)
    PlainAdam([{"params": [param]}], lr=1.0).zero_grad()
    assert param.grad is None
