"""A method's trainable table (``Method.trainable_state``, ROLE's label estimator): optimised with the
model at lr x lr_mult, handed to ``loss`` as the batch rows, checkpointed so ``--resume`` continues it."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.plugins.method import LabelStore
from bench.plugins.registry import DATASETS, METHODS
from bench.runs.recipe import ImageRecipe
from bench.training.checkpoint import LAST, RunCheckpoints
from bench.training.finetune.loop import fit
from bench.training.finetune.setup import FitSetup
from bench.training.images import BadImages, ImageRows, image_transform
from bench.training.images.inference import Precision
from bench.training.tensors import label_tensor

ROWS, SIZE = 20, 16
RECIPE = ImageRecipe(epochs=3, batch_size=8, lr=1e-2, image_size=SIZE)


class Interrupt(Exception):
    pass


def _setup(tmp_path, resume: bool = False) -> FitSetup:
    data = DATASETS.get("coco-mini")().load()
    paths = data.train.images[:ROWS]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=4), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, data.num_classes))
    return FitSetup(
        model=model, method=METHODS.get("role")(expected_num_pos=2.9), recipe=RECIPE, seed=0,
        label_store=LabelStore(label_tensor(data.train.labels[:ROWS])),
        train_rows=ImageRows(paths, image_transform(SIZE, train=True), SIZE),
        train_bad=BadImages("train", paths), device=torch.device("cpu"), precision=Precision(), workers=0,
        checkpoints=RunCheckpoints(tmp_path, "f" * 64), resume=resume,
    )


def test_role_trains_its_estimator_and_resumes_bit_identically(tmp_path):
    whole_setup = _setup(tmp_path / "whole")
    seen = []
    whole_setup.step_observers = (lambda logits, state: seen.append(state.extra["label_estimator_logits"]),)
    whole = fit(whole_setup, select_best=False)
    table = RunCheckpoints(tmp_path / "whole", "f" * 64).load(LAST)["trainable_state"]
    initial = METHODS.get("role")().trainable_state(whole_setup.label_store.labels, torch.Generator().manual_seed(0))
    assert table.shape == initial.shape and not torch.equal(table, initial.detach())  # it was trained
    assert seen[0].requires_grad and seen[0].shape[0] == 8

    cut = _setup(tmp_path / "cut")

    def stop_in_epoch_2(logits, state):
        if state.epoch == 2:
            raise Interrupt

    cut.step_observers = (stop_in_epoch_2,)
    with pytest.raises(Interrupt):
        fit(cut, select_best=False)
    resumed = fit(_setup(tmp_path / "cut", resume=True), select_best=False)
    assert resumed.resumed_from_epoch == 1 and resumed.steps == whole.steps
    assert all(torch.equal(v, whole.raw_state[k]) for k, v in resumed.raw_state.items())
    assert torch.equal(RunCheckpoints(tmp_path / "cut", "f" * 64).load(LAST)["trainable_state"], table)
