"""The ``plateau`` schedule: the loss rule, the lr / weight-decay grid chosen on validation (every
candidate recorded), early stopping, the behaviour without a validation split, and convergence on
scene measured against scikit-learn's tuned logistic regression."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bench import LabelStore, Method
from bench.runs.config import RunConfig
from bench.runs.execute import execute
from bench.runs.recipe import Recipe
from bench.runs.recipe_files import recipe_for_run
from bench.store import Store
from bench.training.convergence import DROP, IMPROVED, STOP, WAIT, Plateau
from bench.training.heads import build_model
from bench.training.inference import predict
from bench.training.trainer import Monitor, train

N, D, C = 160, 8, 3
PLATEAU = Recipe(schedule="plateau", epochs=60, lr=0.05, patience=2, lr_drops=1, early_stopping=6, batch_size=32)


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D)).astype(np.float32)
    labels = np.where(x @ rng.normal(size=(D, C)) + rng.normal(size=(N, C)) > 0, 1, -1).astype(np.int8)
    return x, labels


class Bce(Method):
    """Summed BCE on annotated entries; flips one label per epoch to show which store is kept."""

    mutates_labels = True

    def loss(self, logits, labels, state=None):
        known = labels != 0
        return torch.nn.functional.binary_cross_entropy_with_logits(
            logits[known], (labels == 1).float()[known], reduction="sum")

    def on_epoch_start(self, state):
        state.label_store.set(torch.tensor([state.epoch]), torch.tensor([0]), 0)
        self.seen = getattr(self, "seen", []) + [(state.extra["candidate"], state.epoch)]


def _train(recipe: Recipe, monitor: bool = True, seed: int = 0):
    x, labels = _data()
    store = LabelStore(torch.from_numpy(labels[:120]))
    watch = Monitor("val", torch.from_numpy(x[120:]), labels[120:]) if monitor else None
    method = Bce()
    result = train(lambda: build_model("linear", num_classes=C, features=x[:120]), method,
                   features=torch.from_numpy(x[:120]), label_store=store, recipe=recipe, seed=seed,
                   monitor=watch, select_best=monitor, progress=False)
    result.method = method
    return result, store, x


def test_plateau_rule_drops_the_lr_then_stops():
    rule = Plateau(patience=2, lr_drops=1)
    signals = [rule.update(v) for v in (10.0, 9.0, 8.95, 8.99, 8.0, 7.99, 7.98)]
    # 8.95 is less than 1% below 9.0: no improvement; two such epochs drop the lr, two more stop.
    assert signals == [IMPROVED, IMPROVED, WAIT, DROP, IMPROVED, WAIT, STOP]
    assert not Plateau(2, 0).improves(float("nan"))


def test_every_candidate_is_recorded_and_the_best_on_validation_is_kept():
    recipe = Recipe(**{**PLATEAU.to_dict(), "lr_grid": (0.05, 0.005), "weight_decay_grid": (1e-4, 3.0)})
    result, store, x = _train(recipe)
    selection = result.selection
    candidates = selection["candidates"]
    assert [(c["lr"], c["weight_decay"]) for c in candidates] == [(0.05, 1e-4), (0.05, 3.0), (0.005, 1e-4),
                                                                 (0.005, 3.0)]
    best = max(range(4), key=lambda i: (candidates[i]["value"], -i))
    assert selection["candidate"] == best and selection["value"] == candidates[best]["value"]
    assert (selection["lr"], selection["weight_decay"]) == (candidates[best]["lr"], candidates[best]["weight_decay"])
    assert all(c["stopped"] in ("plateau", "validation", "budget") and c["epochs"] <= 60 for c in candidates)
    assert result.epochs == candidates[best]["epochs"] and len(result.history) == result.epochs
    assert store.changes == result.epochs  # the caller's store holds the chosen candidate's labels
    assert result.method.seen == [(best, e) for e in range(1, result.epochs + 1)]  # and its method the state
    # the returned model is the chosen candidate at its best epoch: retraining that one alone agrees
    alone = Recipe(**{**PLATEAU.to_dict(), "lr": selection["lr"], "weight_decay": selection["weight_decay"]})
    single, _, _ = _train(alone)
    assert single.selection["value"] == selection["value"] and single.selection["epoch"] == selection["epoch"]
    assert torch.equal(predict(single.model, torch.from_numpy(x)), predict(result.model, torch.from_numpy(x)))
    again, _, _ = _train(recipe)
    assert torch.equal(predict(again.model, torch.from_numpy(x)), predict(result.model, torch.from_numpy(x)))


def test_a_run_without_validation_trains_the_default_until_the_loss_plateaus():
    recipe = Recipe(**{**PLATEAU.to_dict(), "lr_grid": (0.05, 0.005), "weight_decay_grid": (1e-4, 3.0)})
    result, _, _ = _train(recipe, monitor=False)
    selection = result.selection
    assert "candidates" not in selection and selection["policy"] == "last"
    assert (selection["lr"], selection["weight_decay"]) == (0.05, 1e-4) and selection["stopped"] == "plateau"
    assert result.epochs < 60 and [h.get("lr_drop") for h in result.history if "lr_drop" in h] == [pytest.approx(5e-3)]


def test_early_stopping_ends_a_candidate_after_its_best_validation_epoch():
    result, _, _ = _train(Recipe(**{**PLATEAU.to_dict(), "patience": 50, "early_stopping": 3}))
    assert result.selection["stopped"] == "validation"
    assert result.epochs == result.selection["epoch"] + 3


def test_onecycle_stays_a_fixed_budget():
    result, _, _ = _train(Recipe(epochs=5, batch_size=32, lr=1e-2))
    assert result.epochs == 5 and result.selection["stopped"] == "budget" and "candidates" not in result.selection


def _sklearn_reference(prepared) -> float:
    from sklearn.linear_model import LogisticRegression

    from bench.metrics import evaluate

    x = {s: prepared.features(s).astype(np.float64) for s in ("train", "val", "test")}
    mean, std = x["train"].mean(axis=0), x["train"].std(axis=0)
    z = {s: (v - mean) / np.where(std > 0, std, 1.0) for s, v in x.items()}
    y = (np.asarray(prepared.labels("train")) == 1).astype(int)
    best = (-np.inf, 0.0)
    for c in (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 1.0):
        models = [LogisticRegression(C=c, max_iter=2000).fit(z["train"], y[:, k]) for k in range(y.shape[1])]
        scores = {s: np.column_stack([m.decision_function(z[s]) for m in models]) for s in ("val", "test")}
        val = evaluate(scores["val"], prepared.labels("val"), "partial").map_c
        best = max(best, (val, evaluate(scores["test"], prepared.data.test.labels, "partial").map_c))
    return best[1]


def test_shipped_linear_recipe_converges_to_tuned_logistic_regression_on_scene(tmp_path):
    from bench.runs.resolve import get_dataset

    _, recipe = recipe_for_run("linear", False, None, {})
    record = execute(RunConfig("negative", "scene", recipe=recipe), Store(tmp_path / "runs.db"), progress=False).record
    candidates = record.selection["candidates"]
    assert len(candidates) == len(recipe.candidates()) == 3
    assert record.selection["value"] == max(c["value"] for c in candidates)
    assert all(c["stopped"] != "budget" for c in candidates)  # every candidate converged or early-stopped
    reference = _sklearn_reference(get_dataset("scene"))
    assert record.metrics["map_c"] >= reference - 1.0, (record.metrics["map_c"], reference)


def test_shipped_recipe_without_a_validation_split_trains_its_default_to_convergence(tmp_path):
    _, recipe = recipe_for_run("linear", False, None, {})
    record = execute(RunConfig("negative", "scene", recipe=recipe, select_on="last", val_fraction=0.0),
                     Store(tmp_path / "runs.db"), progress=False).record
    selection = record.selection
    assert selection["policy"] == "last" and "candidates" not in selection and record.extra["val_rows"] == 0
    assert (selection["lr"], selection["weight_decay"]) == (recipe.lr, recipe.weight_decay)
    assert selection["stopped"] == "plateau" and selection["epoch"] < recipe.epochs
    assert sum("lr_drop" in h for h in record.extra["history"]) == recipe.lr_drops
