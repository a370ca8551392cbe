"""Large-data recipe fields of feature heads: ``epoch_steps`` (epochs of a continuing pass) and
``grid_screen_rows`` (the grid screened after one epoch above it), and what stays bitwise as before
without them."""
from __future__ import annotations

import pytest
import torch

from bench import LabelStore
from bench.runs.recipe import Recipe, RecipeError
from bench.training.batches import EpochBatches
from bench.training.heads import build_model
from bench.training.inference import predict
from bench.training.trainer import Monitor, train
from tests.training.test_trainer import Bce, C, _data


def _epochs(rows, batch, steps, count, seed=0):
    source = EpochBatches(rows, batch, torch.Generator().manual_seed(seed), steps)
    return source, [source.next_epoch() for _ in range(count)]


def test_a_pass_per_epoch_draws_what_randperm_draws():
    generator = torch.Generator().manual_seed(3)
    expected = [torch.randperm(10, generator=generator).split(4) for _ in range(3)]
    for steps in (0, 3, 7):  # 0, or at least the 3 batches of a pass: one pass per epoch
        source, got = _epochs(10, 4, steps, 3, seed=3)
        assert source.steps == 3
        assert all(len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b)) for a, b in zip(got, expected))


def test_short_epochs_continue_the_pass_and_visit_every_row_once_per_pass():
    source, got = _epochs(10, 4, 2, 6, seed=1)
    assert source.steps == 2 and all(len(epoch) == 2 for epoch in got)
    batches = [b for epoch in got for b in epoch]
    generator = torch.Generator().manual_seed(1)
    passes = [b for _ in range(4) for b in torch.randperm(10, generator=generator).split(4)]
    assert all(torch.equal(a, b) for a, b in zip(batches, passes))
    for start in range(0, 12, 3):  # batches 3k..3k+2 make one pass: every row once
        assert sorted(torch.cat(batches[start:start + 3]).tolist()) == list(range(10))


class NoisyBce(Bce):
    """Bce plus a term drawn from torch's global generator every step."""

    def loss(self, logits, labels, state=None):
        return super().loss(logits, labels, state) + (torch.rand(logits.shape) * logits).sum()


def _fit(recipe, monitor=True, seed=0, method=Bce):
    x, labels = _data()
    features = torch.from_numpy(x)
    watched = Monitor("val", features[:40], labels[:40]) if monitor else None
    return train(lambda: build_model("linear", num_classes=C, features=x), method(), features=features,
                 label_store=LabelStore(torch.from_numpy(labels)), recipe=recipe, seed=seed,
                 monitor=watched, select_best=monitor, progress=False), features


def _untimed(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


PLATEAU = dict(epochs=12, batch_size=16, lr=1e-2, schedule="plateau", patience=2, lr_drops=1,
               weight_decay=1e-4, weight_decay_grid=(1e-4, 3.0))


def test_epoch_steps_count_steps_not_passes():
    result, _ = _fit(Recipe(**PLATEAU, epoch_steps=3))
    assert all(c["steps"] == 3 * c["epochs"] for c in result.selection["candidates"])
    assert result.steps == 3 * result.epochs


def test_epoch_steps_at_a_pass_or_more_change_nothing():
    base, features = _fit(Recipe(**PLATEAU))
    for steps in (8, 100):  # 120 rows / 16 = 8 batches a pass
        same, _ = _fit(Recipe(**PLATEAU, epoch_steps=steps))
        assert torch.equal(predict(same.model, features), predict(base.model, features))
        assert _untimed(same.selection["candidates"]) == _untimed(base.selection["candidates"])
        assert _untimed(same.history) == _untimed(base.history)


@pytest.mark.parametrize("method", [Bce, NoisyBce])  # NoisyBce: each candidate keeps its own global RNG stream
def test_a_large_grid_is_screened_after_one_epoch_and_the_winner_trains_on_unchanged(method):
    whole, _ = _fit(Recipe(**PLATEAU, grid_screen_rows=120), method=method)  # 120 rows: not above
    assert "grid_screened" not in whole.selection
    assert all(line["stopped"] != "screened" for line in whole.selection["candidates"])
    screened, _ = _fit(Recipe(**PLATEAU, grid_screen_rows=119), method=method)
    winner = screened.selection["candidate"]
    lines = screened.selection["candidates"]
    loser = lines[1 - winner]
    assert (loser["stopped"], loser["epochs"], loser["steps"]) == ("screened", 1, 8)
    assert loser["value"] <= screened.history[0]["val_map_c"]  # the winner led after epoch 1
    assert _untimed([lines[winner]]) == _untimed([whole.selection["candidates"][winner]])  # continued as if alone
    assert screened.selection["grid_screened"] == ("120 training rows > grid_screen_rows 119: every candidate "
                                                   "trained 1 epoch (8 steps), the best on val trained on")


@pytest.mark.parametrize("field, value", [("epoch_steps", -1), ("grid_screen_rows", -5)])
def test_negative_values_are_refused_naming_the_field(field, value):
    with pytest.raises(RecipeError, match=field):
        Recipe(**{field: value})


def test_default_zero_fields_leave_the_configuration_hash_as_before():
    from bench.training.modes import LINEAR

    class Features:
        modality = "features"

    _, config = LINEAR.prepare(Recipe(schedule="plateau"), Features)
    assert "epoch_steps" not in config and "grid_screen_rows" not in config
    _, config = LINEAR.prepare(Recipe(schedule="plateau", epoch_steps=5, grid_screen_rows=9), Features)
    assert config["epoch_steps"] == 5 and config["grid_screen_rows"] == 9
