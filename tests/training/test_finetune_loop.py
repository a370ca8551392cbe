"""``bench.training.finetune.loop``: the CSL optimiser groups, the per-batch one-cycle schedule and the EMA."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.plugins.registry import METHODS
from bench.runs.recipe import ImageRecipe
from bench.training.finetune.loop import fit
from bench.training.finetune.setup import FitSetup
from bench.training.finetune.state import cpu_state
from bench.training.steps import adam_with_l2
from tests.helpers.finetune import tiny_setup

ROWS, SIZE = 20, 24


def _setup(recipe: ImageRecipe) -> FitSetup:
    return tiny_setup(recipe, METHODS.get("negative")(), ROWS, SIZE)


def test_weight_decay_applies_to_weight_matrices_only():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    groups = adam_with_l2(model, lr=2e-4, weight_decay=1e-4).param_groups
    decayed = {id(p) for p in groups[0]["params"]}
    assert groups[0]["weight_decay"] == 1e-4 and groups[1]["weight_decay"] == 0.0
    assert decayed == {id(model[0].weight), id(model[3].weight)}
    assert len(groups[1]["params"]) == 4  # conv bias, batch-norm weight and bias, linear bias


def test_one_cycle_steps_every_batch_and_the_ema_follows_every_step():
    recipe = ImageRecipe(epochs=3, batch_size=8, lr=1e-2, pct_start=0.2, ema_decay=0.6, image_size=SIZE)
    setup = _setup(recipe)
    initial = cpu_state(setup.model)
    rates, weights = [], []

    def observe(logits, state):
        rates.append(state.extra["lr"])
        weights.append(cpu_state(setup.model))

    setup.step_observers = (observe,)
    result = fit(setup, select_best=False)
    assert result.steps == len(rates) == 3 * 3  # ceil(20 / 8) batches per epoch

    reference = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=recipe.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(reference, max_lr=recipe.lr, total_steps=9, pct_start=0.2)
    expected = []
    for _ in range(9):
        expected.append(reference.param_groups[0]["lr"])
        reference.step()
        schedule.step()
    assert rates == expected and rates[0] == pytest.approx(recipe.lr / 25)

    ema = {k: v.clone() for k, v in initial.items()}
    for state in weights:  # ema <- d * ema + (1 - d) * w after every step, buffers included
        for key, value in state.items():
            ema[key] = 0.6 * ema[key] + 0.4 * value if value.is_floating_point() else value.clone()
    for key, value in result.ema_state.items():
        assert torch.allclose(value, ema[key], rtol=1e-5, atol=1e-6), key
    assert all(torch.equal(result.raw_state[k], v) for k, v in weights[-1].items())
    assert result.selection == {"policy": "last", "epoch": 3, "variant": "ema"}
