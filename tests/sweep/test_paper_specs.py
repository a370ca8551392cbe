"""The paper reproductions under recipes/papers/: each names a published table, expands with the
user's data root, runs the paper's protocol beside ours (or, where the paper selected on a validation
carve as bench does, that protocol alone), and two run end to end on coco-mini-sized data."""
from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from bench.cli.app import app
from bench.core.resources import shipped
from bench.labels.protocols import default_val_labels
from bench.store import Store
from bench.sweep.grid import expand
from bench.sweep.settings import apply_settings
from bench.sweep.spec import load_spec

SPECS = sorted(shipped("recipes").joinpath("papers").glob("*.yaml"))
TABLES = {(r["citation"], r["table"]) for r in yaml.safe_load(shipped("reports").joinpath(
    "references.yaml").read_text())["results"]}
COCO_MINI = shipped("datasets").joinpath("data", "coco_mini")
AS_COCO = [f"root={COCO_MINI}", "train_json=instances_train.json", "test_json=instances_test.json",
           "train_images=train", "test_images=test", "verify=off"]
CUT = ["epochs=1", "backbone=resnet18", "pretrained=none", "image_size=32", "amp=off", "batch_size=16"]


def test_there_is_a_spec_per_reproduced_table():
    assert {p.stem for p in SPECS} >= {"csl-coco-fpc", "csl-coco-rpa", "csl-table1", "csl-table2", "csl-table3",
                                       "csl-table4", "ll-table1-coco", "ll-table2-openimages-v3",
                                       "cole-coco-single-positive", "em-table-coco"}


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_each_spec_names_its_table_and_runs_the_paper_protocol_beside_ours(path):
    spec = apply_settings(load_spec(path), ["root=/data/nowhere"])
    assert (spec.paper["key"], spec.paper["table"]) in TABLES
    assert spec.estimate["images_per_s"] > 0
    cells = expand(spec)
    assert cells and all(c.run.mode == "finetune" for c in cells)
    assert all(c.run.recipe.pretrained not in (None, "") for c in cells)  # the paper's weights, named
    if spec.paper.get("selection") == "val":  # the paper's protocol is ours: validation carve, best epoch on it
        assert not spec.variants and all(c.run.select_on == "val" and c.run.val_fraction > 0 for c in cells)
        return
    paper = [c for c in cells if c.variant.startswith("paper")]
    honest = [c for c in cells if c.variant.startswith("honest")]
    assert len(paper) == len(honest) > 0
    assert all(c.run.select_on == "test" and c.run.val_fraction == 0.0 for c in paper)
    assert all(c.run.select_on == "val" and c.run.val_fraction > 0 for c in honest)


def test_a_reproduction_runs_end_to_end_with_its_epochs_cut(tmp_path):
    store = tmp_path / "s.db"
    settings = [item for value in AS_COCO + CUT for item in ("--set", value)]
    result = CliRunner().invoke(app, ["sweep", str(shipped("recipes") / "papers" / "csl-coco-rpa.yaml"), *settings,
                                      "--gpus-per-cell", "0", "--cpus-per-cell", "1", "--workers", "1",
                                      "--no-live", "--store", str(store)])
    assert result.exit_code == 0, result.output
    records = Store(store).runs()
    assert len(records) == 6 and all(r.status == "done" for r in records)
    assert sum(bool(r.extra.get("selected_on_test")) for r in records) == 3
    report = CliRunner().invoke(app, ["report", "--store", str(store), "--format", "md", "-o",
                                      str(tmp_path / "r.md")])
    assert report.exit_code == 0, report.output
    text = (tmp_path / "r.md").read_text()
    assert "README 'Typical Training Results'" in text and "(Δ " in text


def test_the_single_positive_specs_validate_on_clean_labels_and_stop_as_the_official_code():
    ll = expand(apply_settings(load_spec(shipped("recipes") / "papers" / "ll-table1-coco.yaml"), ["root=/x"]))
    em = expand(apply_settings(load_spec(shipped("recipes") / "papers" / "em-table-coco.yaml"), ["root=/x"]))
    assert all(default_val_labels(c.run.dataset.rpartition("+")[2].partition("[")[0]) == "clean" and
               c.run.val_labels in (None, "clean") for c in ll + em)
    assert {(c.run.recipe.stop_below_best, c.run.recipe.classifier_lr_mult, c.run.recipe.lr) for c in ll} == {
        (3.0, 10.0, 1e-5)}
    assert {(c.run.recipe.stop_below_best, c.run.recipe.classifier_lr_mult, c.run.recipe.batch_size) for c in em} == {
        (0.0, 1.0, 16)}
    cole = expand(apply_settings(load_spec(shipped("recipes") / "papers" / "cole-coco-single-positive.yaml"),
                                 ["root=/x"]))
    assert len(cole) == 5 * 4 * 2 and {c.run.recipe.lr_schedule for c in cole + ll + em} == {"constant"}


def test_a_single_positive_reproduction_runs_end_to_end_with_its_epochs_cut(tmp_path):
    store = tmp_path / "s.db"
    settings = [item for value in AS_COCO + CUT[1:] + ["epochs=3"] for item in ("--set", value)]
    result = CliRunner().invoke(app, ["sweep", str(shipped("recipes") / "papers" / "em-table-coco.yaml"), *settings,
                                      "--gpus-per-cell", "0", "--cpus-per-cell", "1", "--workers", "1",
                                      "--no-live", "--store", str(store)])
    assert result.exit_code == 0, result.output
    records = Store(store).runs()
    assert len(records) == 5 and all(r.status == "done" for r in records)
    for record in records:  # stop_below_best 0: training ends at the first epoch below the best
        values = [h["val_map_c_raw"] for h in record.extra["history"]]
        below = [i for i, v in enumerate(values) if v < max(values[:i + 1])]
        assert len(values) == (below[0] + 1 if below else 3) and record.cost["epochs"] == len(values)
        assert ("stopped_at_epoch" in record.selection) == bool(below) and record.selection["variant"] == "raw"
    report = CliRunner().invoke(app, ["report", "--store", str(store), "--format", "md", "-o",
                                      str(tmp_path / "r.md")])
    assert report.exit_code == 0, report.output
    text = (tmp_path / "r.md").read_text()
    assert "EM + APL [EM+APL main table]" in text and "(Δ " in text
