"""The convergence fields of ``Recipe`` (schedule, patience, lr_drops, early_stopping, lr_grid,
weight_decay_grid): one-line errors naming the field, YAML and ``--set`` forms, what the
configuration hash records, and their refusal in mode finetune."""
from __future__ import annotations

import json

import pytest

from bench.plugins.registry import DATASETS
from bench.runs.config import RunConfig, resolve_config
from bench.runs.recipe import ImageRecipe, Recipe, RecipeError
from bench.runs.recipe_files import build_recipe, load_recipe, parse_overrides, recipe_for_run
from bench.training.modes import FINETUNE, LINEAR


@pytest.mark.parametrize("fields, message", [
    ({"schedule": "cosine"}, r"^schedule must be one of onecycle, plateau; got 'cosine'$"),
    ({"patience": 0}, r"^patience must be in \[1, 100000\] epochs; got 0$"),
    ({"lr_drops": -1}, r"^lr_drops must be in \[0, 10\]; got -1$"),
    ({"early_stopping": -2}, r"^early_stopping must be in \[0, 100000\] epochs \(0 = off\); got -2$"),
    ({"lr_grid": (0.0,)}, r"^lr_grid values must be > 0 and finite; got \[0.0\]$"),
    ({"weight_decay_grid": (float("nan"),)}, r"^weight_decay_grid values must be >= 0 and finite"),
    ({"lr_grid": (1e-2, 1e-2)}, r"^lr_grid must hold at most 16 distinct values"),
    ({"lr_grid": "1e-2"}, r"^lr_grid must be a list of numbers; got '1e-2'$"),
    ({"weight_decay_grid": (1, "a")}, r"^weight_decay_grid must be a list of numbers"),
    ({"lr_grid": (3e-3, 1e-2)}, r"^lr_grid \[0.003, 0.01\] must hold lr 0.001 \(the value used without a "
                                r"validation split\); set both$"),
    ({"weight_decay_grid": (3.0,)}, r"^weight_decay_grid \[3.0\] must hold weight_decay 0.0001"),
])
def test_bad_values_name_the_field_in_one_line(fields, message):
    with pytest.raises(RecipeError, match=message) as caught:
        Recipe(**fields)
    assert "\n" not in str(caught.value)


def test_grids_from_yaml_json_and_the_command_line(tmp_path):
    values, _ = load_recipe("linear")
    shipped = build_recipe(values, {}, image_dataset=False)
    assert shipped.schedule == "plateau" and shipped.lr_grid == (1e-2,)
    assert shipped.weight_decay_grid == (1e-4, 3.0, 30.0)
    assert Recipe(**json.loads(json.dumps(shipped.to_dict()))) == shipped  # a stored recipe rebuilds equal
    overrides = parse_overrides(["lr_grid=1e-3, 1e-2", "lr=1e-3", "weight_decay_grid=", "weight_decay=0.5"])
    assert overrides == {"lr_grid": (1e-3, 1e-2), "lr": 1e-3, "weight_decay_grid": (), "weight_decay": 0.5}
    recipe = build_recipe(values, overrides, image_dataset=False)
    assert recipe.candidates() == [(1e-3, 0.5), (1e-2, 0.5)]
    with pytest.raises(RecipeError, match=r"^--set 'lr_grid=1e-3,fast': field 'lr_grid' must be a list of numbers"):
        parse_overrides(["lr_grid=1e-3,fast"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr_grid: [1.0e-3, high]\n")
    with pytest.raises(RecipeError, match=r"bad.yaml: field 'lr_grid' must be a list of numbers"):
        load_recipe(str(bad))
    with pytest.raises(RecipeError, match=r"lr_grid \[0.001\] must hold lr 0.01"):
        build_recipe(values, {"lr_grid": (1e-3,)}, image_dataset=False)


def test_overriding_a_value_alone_narrows_its_grid():
    """``bench run --lr 1e-3`` (or ``--set weight_decay=1``) trains at that value only."""
    values, _ = load_recipe("linear")
    assert build_recipe(values, {"lr": 1e-3}, image_dataset=False).candidates() == [
        (1e-3, 1e-4), (1e-3, 3.0), (1e-3, 30.0)]
    assert build_recipe(values, {"weight_decay": 1.0}, image_dataset=False).candidates() == [(1e-2, 1.0)]
    assert build_recipe({}, {"lr": 1e-3}, image_dataset=False).lr_grid == ()  # no grid to narrow


def test_the_configuration_records_the_fields_that_decide_the_training():
    scene = DATASETS.get("scene")
    _, shipped = recipe_for_run("linear", False, None, {})
    _, config = LINEAR.prepare(shipped, scene)
    assert {k: config[k] for k in ("schedule", "patience", "lr_drops", "early_stopping", "lr_grid",
                                   "weight_decay_grid")} == {
        "schedule": "plateau", "patience": 2, "lr_drops": 2, "early_stopping": 15, "lr_grid": (1e-2,),
        "weight_decay_grid": (1e-4, 3.0, 30.0)}
    _, onecycle = LINEAR.prepare(Recipe(), scene)
    assert "patience" not in onecycle and "early_stopping" not in onecycle and onecycle["schedule"] == "onecycle"
    hashes = {resolve_config(RunConfig("negative", "scene", recipe=r)).config_hash for r in (
        shipped, Recipe(**{**shipped.to_dict(), "weight_decay_grid": (1e-4, 30.0)}),
        Recipe(**{**shipped.to_dict(), "early_stopping": 5}), Recipe())}
    assert len(hashes) == 4


def test_finetune_refuses_the_feature_head_convergence_fields():
    coco_mini = DATASETS.get("coco-mini")
    _, config = FINETUNE.prepare(ImageRecipe(backbone="resnet18"), coco_mini)
    assert "schedule" not in config and "lr_grid" not in config  # finetune hashes stay what they were
    with pytest.raises(RecipeError, match=r"^recipe field 'schedule' applies to feature heads \(mode linear\) only"):
        FINETUNE.prepare(ImageRecipe(backbone="resnet18", schedule="plateau"), coco_mini)
