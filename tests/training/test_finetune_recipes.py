"""Recipes as data (``recipes/*.yaml``, ``bench.runs.recipe_files``) and their part of the config hash."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from bench.runs.recipe import ImageRecipe, Recipe, RecipeError
from bench.runs.recipe_files import build_recipe, load_recipe, parse_overrides, recipe_names
from bench.training.modes import FINETUNE, LINEAR


def test_shipped_recipes_load_and_csl_is_the_image_recipe_default():
    assert {"csl", "linear", "asl"} <= set(recipe_names())
    values, meta = load_recipe("csl")
    assert meta["mode"] == "finetune" and meta["source"].endswith("recipes/csl.yaml")
    csl = build_recipe(values, {}, image_dataset=True)
    assert csl == ImageRecipe()
    assert (csl.backbone, csl.lr, csl.weight_decay, csl.pct_start, csl.batch_size, csl.epochs) == (
        "tresnet_m", 2e-4, 1e-4, 0.2, 64, 30)
    assert (csl.ema_decay, csl.cutout, csl.normalize, csl.amp, csl.image_size) == (0.9997, 0.5, "none", "auto", None)
    asl = build_recipe(*load_recipe("asl")[:1], {}, image_dataset=True)
    assert (asl.image_size, asl.batch_size, asl.lr, asl.epochs) == (224, 128, 1e-4, 40)


def test_linear_recipe_trains_to_convergence_on_feature_datasets():
    """recipes/linear.yaml is the engine's fields with the convergence rule on (issue 13): plateau
    schedule, lr 1e-2, L2 chosen on validation; its image fields apply to image datasets only."""
    values, meta = load_recipe("linear")
    assert meta["mode"] == "linear"
    converging = Recipe(schedule="plateau", epochs=200, patience=2, lr_drops=2, early_stopping=15, lr=1e-2,
                        lr_grid=(1e-2,), weight_decay=30.0, weight_decay_grid=(1e-4, 3.0, 30.0),
                        epoch_steps=2000, grid_screen_rows=100_000)
    assert build_recipe(values, {}, image_dataset=False) == converging
    on_images = build_recipe(values, {}, image_dataset=True)
    assert (on_images.backbone, on_images.normalize, on_images.lr) == ("resnet50", "imagenet", 1e-2)
    assert on_images.base() == converging


def test_overrides_are_typed_by_the_field():
    values = parse_overrides(["lr=1e-4", "epochs=2", "channels_last=false", "pretrained=none", "image_size=64",
                              "amp=bf16", "epochs=3"])
    assert values == {"lr": 1e-4, "epochs": 3, "channels_last": False, "pretrained": None, "image_size": 64,
                      "amp": "bf16"}
    assert type(values["lr"]) is float and type(values["epochs"]) is int
    assert build_recipe(load_recipe("csl")[0], values, image_dataset=True).lr == 1e-4
    with pytest.raises(RecipeError, match=r"--set 'epochs=2.5': field 'epochs' must be int; got '2.5'"):
        parse_overrides(["epochs=2.5"])
    with pytest.raises(RecipeError, match=r"unknown recipe field 'lrr' \(did you mean 'lr'\?\)"):
        parse_overrides(["lrr=1"])
    with pytest.raises(RecipeError, match="expected field=value"):
        parse_overrides(["lr"])
    with pytest.raises(RecipeError, match="field 'channels_last' must be bool"):
        parse_overrides(["channels_last=maybe"])


def test_recipe_files_are_checked_with_the_file_and_line(tmp_path):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("lr: 1e-3\nepochs: [1,\n")
    with pytest.raises(RecipeError, match=r"bad\.yaml line \d+: not valid YAML"):
        load_recipe(str(bad_yaml))
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("epoch: 3\n")
    with pytest.raises(RecipeError, match=r"unknown\.yaml: unknown recipe field 'epoch' \(did you mean 'epochs'\?\)"):
        load_recipe(str(unknown))
    with pytest.raises(RecipeError, match=r"unknown recipe 'cls' \(did you mean 'csl'\?\)"):
        load_recipe("cls")


def test_image_fields_on_a_feature_dataset():
    with pytest.raises(RecipeError, match="'backbone' applies to image datasets only"):
        build_recipe({}, {"backbone": "resnet18"}, image_dataset=False)
    assert build_recipe({"backbone": "resnet18", "lr": 0.5}, {}, image_dataset=False) == Recipe(lr=0.5)


def test_recipe_checks_name_the_field():
    with pytest.raises(RecipeError, match="amp must be one of auto, bf16, fp16, off; got 'fp8'"):
        ImageRecipe(amp="fp8")
    with pytest.raises(RecipeError, match="ema_decay must be in"):
        ImageRecipe(ema_decay=1.0)


class Images:
    name, modality, image_size = "tmp-images", "images", None


class WithSize(Images):
    image_size = 96


class Features:
    name, modality = "tmp-features", "features"


def test_automatic_image_size_comes_from_the_dataset_plugin():
    assert FINETUNE.prepare(ImageRecipe(backbone="resnet18"), WithSize)[0].image_size == 96
    assert FINETUNE.prepare(ImageRecipe(backbone="resnet18"), Images)[0].image_size == 448
    assert FINETUNE.prepare(ImageRecipe(backbone="resnet18", image_size=64), WithSize)[0].image_size == 64


def test_recipe_config_hashes_what_matters_per_mode(tmp_path):
    unused = ("hidden", "patience", "lr_drops", "early_stopping", "epoch_steps", "grid_screen_rows")  # mlp; plateau; 0
    assert LINEAR.prepare(Recipe(), Features)[1] == {k: v for k, v in Recipe().to_dict().items() if k not in unused}
    weights = tmp_path / "w.pth"
    torch.save({"x": torch.zeros(1)}, weights)
    recipe = ImageRecipe(pretrained=str(weights), image_size=96)
    finetune = FINETUNE.prepare(recipe, Images)[1]
    assert finetune["weights"]["source"] == "file" and len(finetune["weights"]["sha256"]) == 64
    assert "pretrained" not in finetune and "head" not in finetune and finetune["ema_decay"] == 0.9997
    assert str(weights) not in str(finetune)
    linear = LINEAR.prepare(recipe, Images)[1]
    assert set(linear) == {"epochs", "lr", "batch_size", "weight_decay", "pct_start", "head", "backbone",
                           "image_size", "normalize", "weights", "schedule", "lr_grid", "weight_decay_grid"}
    assert LINEAR.prepare(replace(recipe, cutout=0.0), Images)[1] == linear
    with pytest.raises(RecipeError, match="image recipe"):
        FINETUNE.prepare(Recipe(), Images)
