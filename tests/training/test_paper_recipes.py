"""The published recipes as data: recipes/ll.yaml, cole.yaml, cole-linear.yaml and hill.yaml hold the
official settings (../shared/docs/reference_semantics.md §4.5, §5.3, §6), and the linear one trains
every lr of its grid at a constant rate for its whole budget."""
from __future__ import annotations

from typer.testing import CliRunner

from bench.cli.app import app
from bench.runs.recipe_files import build_recipe, load_recipe
from bench.store import Store


def _recipe(name: str):
    values, meta = load_recipe(name)
    return build_recipe(values, {}, image_dataset=True), meta


def test_large_loss_matters_recipe_is_config_py():
    recipe, meta = _recipe("ll")
    assert meta["mode"] == "finetune" and meta["description"].startswith("Large Loss Matters recipe")
    assert (recipe.backbone, recipe.image_size, recipe.lr, recipe.classifier_lr_mult, recipe.batch_size,
            recipe.epochs) == ("resnet50", 448, 1e-5, 10.0, 16, 10)
    assert (recipe.lr_schedule, recipe.weight_decay, recipe.ema_decay, recipe.amp) == ("constant", 0.0, 0.0, "off")
    assert (recipe.hflip, recipe.normalize, recipe.cutout, recipe.randaugment_ops) == (0.5, "imagenet", 0.0, 0)
    assert recipe.stop_below_best == 3.0 and recipe.pretrained is None  # offline; the specs name the weights


def test_cole_recipes_are_train_py():
    recipe, meta = _recipe("cole")
    assert meta["mode"] == "finetune"
    assert (recipe.lr_schedule, recipe.classifier_lr_mult, recipe.weight_decay, recipe.epochs, recipe.batch_size) == (
        "constant", 1.0, 0.0, 10, 16)
    assert recipe.stop_below_best is None and (recipe.hflip, recipe.normalize) == (0.5, "imagenet")
    linear, meta = _recipe("cole-linear")
    assert meta["mode"] == "linear" and linear.epochs == 25 and linear.lr_grid == (1e-2, 1e-3, 1e-4, 1e-5)
    assert (linear.schedule, linear.patience, linear.lr_drops, linear.early_stopping) == ("plateau", 25, 0, 0)


def test_hill_recipe_plans_one_cycle_over_80_epochs_and_trains_31():
    recipe, meta = _recipe("hill")
    assert meta["mode"] == "finetune"
    assert (recipe.epochs, recipe.schedule_epochs, recipe.lr, recipe.weight_decay, recipe.batch_size) == (
        31, 80, 1e-4, 1e-4, 128)
    assert (recipe.ema_decay, recipe.amp, recipe.cutout, recipe.randaugment) == (0.9997, "fp16", 0.5, "official")


def test_the_cole_linear_recipe_trains_each_lr_at_a_constant_rate_for_25_epochs(tmp_path):
    store = tmp_path / "runs.db"
    result = CliRunner().invoke(app, ["run", "--method", "an", "--dataset", "scene+single-positive", "--recipe",
                                      "cole-linear", "--store", str(store), "--quiet"])
    assert result.exit_code == 0, result.output
    record = Store(store).runs()[0]
    candidates = record.selection["candidates"]
    assert [c["lr"] for c in candidates] == [1e-2, 1e-3, 1e-4, 1e-5]
    assert all(c["epochs"] == 25 and c["stopped"] == "budget" for c in candidates)
    assert record.selection["lr"] in (1e-2, 1e-3, 1e-4, 1e-5) and record.config["split"]["val_labels"] == "clean"
