"""The paper reproductions under recipes/papers/: each names a published table, expands with the
user's data root, runs the paper's protocol beside ours, and one runs end to end on coco-mini-sized data."""
from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from bench.cli.app import app
from bench.core.resources import shipped
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
                                       "csl-table4"}


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_each_spec_names_its_table_and_runs_the_paper_protocol_beside_ours(path):
    spec = apply_settings(load_spec(path), ["root=/data/nowhere"])
    assert (spec.paper["key"], spec.paper["table"]) in TABLES
    assert spec.estimate["images_per_s"] > 0
    cells = expand(spec)
    assert cells and all(c.run.mode == "finetune" for c in cells)
    paper = [c for c in cells if c.variant.startswith("paper")]
    honest = [c for c in cells if c.variant.startswith("honest")]
    assert len(paper) == len(honest) > 0
    assert all(c.run.select_on == "test" and c.run.val_fraction == 0.0 for c in paper)
    assert all(c.run.select_on == "val" and c.run.val_fraction > 0 for c in honest)
    assert all(c.run.recipe.pretrained not in (None, "") for c in cells)  # the paper's weights, named


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
