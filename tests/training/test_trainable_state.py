"""A method's trainable table (``Method.trainable_state``, ROLE's label estimator): optimised with the
model at lr x lr_mult, handed to ``loss`` as the batch rows, checkpointed so ``--resume`` continues it."""
from __future__ import annotations

import torch

from bench.plugins.registry import METHODS
from bench.runs.recipe import ImageRecipe
from bench.training.checkpoint import LAST, RunCheckpoints
from bench.training.finetune.loop import fit
from bench.training.finetune.setup import FitSetup
from tests.helpers.finetune import interrupted_then_resumed, tiny_setup

ROWS, SIZE = 20, 16
RECIPE = ImageRecipe(epochs=3, batch_size=8, lr=1e-2, image_size=SIZE)


def _setup(tmp_path, resume: bool = False) -> FitSetup:
    return tiny_setup(RECIPE, METHODS.get("role")(expected_num_pos=2.9), ROWS, SIZE, checkpoints=tmp_path,
                      resume=resume)


def test_role_trains_its_estimator_and_resumes_bit_identically(tmp_path):
    whole_setup = _setup(tmp_path / "whole")
    seen = []
    whole_setup.step_observers = (lambda logits, state: seen.append(state.extra["label_estimator_logits"]),)
    whole = fit(whole_setup, select_best=False)
    table = RunCheckpoints(tmp_path / "whole", "f" * 64).load(LAST)["trainable_state"]
    initial = METHODS.get("role")().trainable_state(whole_setup.label_store.labels, torch.Generator().manual_seed(0))
    assert table.shape == initial.shape and not torch.equal(table, initial.detach())  # it was trained
    assert seen[0].requires_grad and seen[0].shape[0] == 8

    resumed = interrupted_then_resumed(lambda resume: _setup(tmp_path / "cut", resume=resume))
    assert resumed.resumed_from_epoch == 1 and resumed.steps == whole.steps
    assert all(torch.equal(v, whole.raw_state[k]) for k, v in resumed.raw_state.items())
    assert torch.equal(RunCheckpoints(tmp_path / "cut", "f" * 64).load(LAST)["trainable_state"], table)
