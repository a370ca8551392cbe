"""Sweeps over image recipes, ``--set`` for every cell, and the ``--dry-run`` GPU-hour estimate."""
from __future__ import annotations

import textwrap

import pytest
from typer.testing import CliRunner

from bench.cli.app import app
from bench.runs.config import RunConfig, resolve_config
from bench.runs.recipe import ImageRecipe
from bench.runs.recipe_files import recipe_for_run
from bench.store import Store
from bench.sweep.estimate import FORWARD_COST, gpu_hours
from bench.sweep.grid import expand
from bench.sweep.settings import apply_settings
from bench.sweep.spec import SpecError, load_spec
from bench.sweep.state import cell_states, dry_run_table


def _spec(tmp_path, text: str):
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    return load_spec(path)


def test_an_image_dataset_gets_the_recipe_file_and_its_mode_as_bench_run_does(tmp_path):
    spec = _spec(tmp_path, """\
        methods: [negative]
        datasets: [coco-mini]
        recipe_file: csl
        recipe: {epochs: 1, backbone: resnet18, amp: ["off", fp16]}
        run: {select_on: last}
    """)
    cells = expand(spec)
    assert [c.run.mode for c in cells] == ["finetune", "finetune"]
    assert all(isinstance(c.run.recipe, ImageRecipe) for c in cells)
    assert [c.run.recipe.amp for c in cells] == ["off", "fp16"]
    _, recipe = recipe_for_run(None, True, "csl", {"epochs": 1, "backbone": "resnet18", "amp": "off"})
    direct = resolve_config(RunConfig("negative", "coco-mini", mode="finetune", recipe=recipe, select_on="last"))
    assert cells[0].config_hash == direct.config_hash
    assert "amp=fp16" in cells[1].label


def test_a_list_valued_field_takes_a_list_as_one_value_and_a_list_of_lists_as_an_axis(tmp_path):
    one = _spec(tmp_path, "methods: [negative]\ndatasets: [scene]\nrecipe: {weight_decay_grid: [1.0e-4, 3.0]}\n")
    assert one.recipe["weight_decay_grid"] == [(1e-4, 3.0)]
    axis = _spec(tmp_path, "methods: [negative]\ndatasets: [scene]\nrecipe: {weight_decay_grid: [[1.0e-4], [3.0]]}\n")
    assert axis.recipe["weight_decay_grid"] == [(1e-4,), (3.0,)]


def test_set_fills_a_dataset_parameter_or_a_recipe_field_in_every_cell(tmp_path):
    spec = _spec(tmp_path, """\
        methods: [negative]
        datasets: ["coco+fpc[n_s=1000]", scene]
        recipe: {epochs: 40}
    """)
    apply_settings(spec, ["root=/data/coco", "epochs=2"])
    assert spec.datasets == ["coco[root=/data/coco]+fpc[n_s=1000]", "scene[root=/data/coco]"]
    assert spec.recipe["epochs"] == [2]
    with pytest.raises(SpecError, match="'roots' is neither a recipe field nor a parameter of the spec's datasets"):
        apply_settings(spec, ["roots=/x"])
    with pytest.raises(SpecError, match="already sets 'root'"):
        apply_settings(spec, ["root=/y"])
    with pytest.raises(SpecError, match="field 'epochs' must be int"):
        apply_settings(spec, ["epochs=two"])


def test_the_estimate_counts_training_monitoring_and_test_images(tmp_path):
    spec = _spec(tmp_path, """\
        methods: [negative]
        datasets: ["coco[root=/nowhere]+fpc[n_s=1000]"]
        recipe_file: csl
        recipe: {epochs: 10}
        estimate: {images_per_s: 100, device: one test GPU}
    """)
    cell = expand(spec)[0]
    train, test = 82081, 40137
    val = round(0.2 * train)
    expected = (10 * (train - val + 2 * FORWARD_COST * val) + FORWARD_COST * test) / 100 / 3600
    assert gpu_hours(cell, 100) == pytest.approx(expected)
    assert gpu_hours(cell, None) is None
    table = dry_run_table(cell_states([cell], Store(tmp_path / "s.db")), False, _no_deps(), spec.estimate)
    assert f"about {expected:.1f} GPU hours to run at 100 images/s (one test GPU)" in table.title


def test_linear_cells_and_unknown_sizes_have_no_estimate(tmp_path):
    cell = expand(_spec(tmp_path, "methods: [negative]\ndatasets: [scene]\n"))[0]
    assert gpu_hours(cell, 100) is None


def test_bad_estimate_and_paper_sections_are_one_line(tmp_path):
    with pytest.raises(SpecError, match="field 'estimate.images_per_s': must be > 0"):
        _spec(tmp_path, "methods: [negative]\ndatasets: [scene]\nestimate: {images_per_s: 0}\n")
    with pytest.raises(SpecError, match="unknown field 'speed'"):
        _spec(tmp_path, "methods: [negative]\ndatasets: [scene]\nestimate: {speed: 3}\n")
    with pytest.raises(SpecError, match="field 'paper': expected a mapping"):
        _spec(tmp_path, "methods: [negative]\ndatasets: [scene]\npaper: [csl]\n")


def test_cli_dry_run_with_set_lists_the_cells_and_their_hours(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("methods: [negative]\ndatasets: ['coco+fpc[n_s=1000]']\nrecipe_file: csl\n"
                    "estimate: {images_per_s: 200, device: one A100}\n")
    result = CliRunner().invoke(app, ["sweep", str(path), "--dry-run", "--set", "root=/data/coco", "--set",
                                      "epochs=2", "--store", str(tmp_path / "s.db")])
    assert result.exit_code == 0, result.output
    assert "GPU h" in result.output and "at 200 images/s (one A100)" in result.output


def _no_deps():
    from bench.sweep.deps import DependencyPlan

    class NoDeps(DependencyPlan):
        def __init__(self):
            pass

        def describe(self, cells):
            return {}

    return NoDeps()


def test_a_variant_may_fix_recipe_fields(tmp_path):
    spec = _spec(tmp_path, """\
        methods: [negative]
        datasets: [coco-mini]
        recipe_file: csl
        recipe: {epochs: 1}
        variants:
          small: {select_on: last, recipe: {backbone: resnet18}}
          large: {select_on: last, recipe: {backbone: resnet50}}
    """)
    cells = expand(spec)
    assert [(c.variant, c.run.recipe.backbone, c.run.recipe.epochs) for c in cells] == [
        ("small", "resnet18", 1), ("large", "resnet50", 1)]
    with pytest.raises(SpecError, match="a variant fixes one value"):
        _spec(tmp_path, "methods: [negative]\ndatasets: [scene]\nvariants: {a: {recipe: {epochs: [1, 2]}}}\n")
