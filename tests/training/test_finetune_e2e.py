"""Both modes end to end on the vendored real images (coco-mini): pipeline, record, cost, bad images.

With random weights and ~100 training images the mAP says little; these tests assert what the run
did and recorded. Learning itself is asserted on ``scene`` (tests/test_runner.py).
"""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bench.cli.app import app
from bench.plugins.registry import DATASETS
from bench.runs.config import RunConfig, resolve_config
from bench.runs.execute import execute
from bench.runs.recipe import ImageRecipe
from bench.store import Store
from bench.training.images.rows import BadImageWarning

VENDORED = Path(__file__).resolve().parents[2] / "datasets" / "data" / "coco_mini"
TINY = ImageRecipe(backbone="test_resnet", image_size=32, epochs=1, batch_size=64)
COST_FIELDS = {"device", "device_count", "device_hours", "peak_host_mb", "peak_cuda_mb", "samples_per_s", "epochs",
               "steps"}


def test_coco_mini_is_vendored_and_loads_through_the_coco_plugin():
    data = DATASETS.get("coco-mini")().load()
    assert (len(data.train), len(data.test), data.num_classes) == (126, 128, 80)
    assert data.class_names[0] == "person" and all(Path(p).is_file() for p in data.train.images + data.test.images)
    assert sum(p.stat().st_size for p in VENDORED.rglob("*")) < 3 * 2**20
    assert DATASETS.get("coco-mini").modality == "images" and DATASETS.get("coco-mini").image_size == 64


def test_cli_finetunes_resnet18_on_coco_mini(tmp_path):
    store = tmp_path / "runs.db"
    result = CliRunner().invoke(app, [
        "run", "--mode", "finetune", "--backbone", "resnet18", "--dataset", "coco-mini", "--method", "negative",
        "--epochs", "1", "--set", "image_size=48", "--workers", "0", "--store", str(store), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "images/s" in result.output
    record = Store(store).runs()[0]
    assert record.status == "done" and record.config["mode"] == "finetune"
    recipe = record.config["recipe"]
    assert (recipe["backbone"], recipe["image_size"], recipe["lr"], recipe["ema_decay"], recipe["normalize"]) == (
        "resnet18", 48, 2e-4, 0.9997, "none")
    assert recipe["weights"] == {"source": "random"}
    assert COST_FIELDS <= set(record.cost) and record.cost["device"] == "cpu" and record.cost["device_count"] == 1
    assert record.cost["peak_cuda_mb"] is None and record.cost["steps"] == 2 and record.cost["epochs"] == 1
    assert record.cost["samples_per_s"] > 0 and record.cost["device_hours"] > 0 and record.timings["wall_s"] > 0
    assert record.selection["policy"] == "val" and record.selection["variant"] in ("raw", "ema")
    assert set(record.extra["test_variants"]) == {"raw", "ema"}
    chosen = record.extra["test_variants"][record.selection["variant"]]
    assert chosen["map_c"] == record.metrics["map_c"]
    assert (record.extra["backbone"]["name"] == "resnet18"
            and len(record.extra["backbone"]["weights"]["state_sha256"]) == 64)
    assert record.extra["history"][0]["images_per_s"] > 0 and "val_map_c_ema" in record.extra["history"][0]
    assert record.test_scores().shape == (128 * 80,)


def test_select_on_test_is_flagged_and_last_keeps_the_last_epoch(tmp_path):
    store = Store(tmp_path / "runs.db")
    on_test = execute(RunConfig("negative", "coco-mini", mode="finetune", recipe=TINY, select_on="test", workers=0),
                      store, progress=False).record
    assert on_test.selection["policy"] == "test" and on_test.extra["selected_on_test"] is True
    last = execute(RunConfig("negative", "coco-mini", mode="finetune", recipe=TINY, select_on="last", workers=0),
                   store, progress=False).record
    assert last.selection == {"policy": "last", "epoch": 1, "variant": "ema"}
    assert last.extra["test_variants"]["ema"]["map_c"] == last.metrics["map_c"]


def test_linear_mode_extracts_features_once_and_reuses_them_across_methods_and_seeds(tmp_path):
    store = Store(tmp_path / "runs.db")
    recipe = ImageRecipe(backbone="test_resnet", image_size=32, lr=1e-3, epochs=3)
    first = execute(RunConfig("negative", "coco-mini+rpa[p=0.5]", mode="linear", recipe=recipe, workers=0), store,
                    progress=False).record
    assert first.status == "done" and first.extra["features"]["cache_hit"] is False
    assert first.extra["features"]["shape"] == [126 + 128, 96] and first.timings["extract_s"] > 0
    for method, seed, dataset in (("ignore", 0, "coco-mini+rpa[p=0.5]"), ("negative", 1, "coco-mini+rpa[p=0.5]"),
                                  ("negative", 0, "coco-mini")):
        other = execute(RunConfig(method, dataset, seed=seed, mode="linear", recipe=recipe, workers=0), store,
                        progress=False).record
        assert other.extra["features"]["cache_hit"] is True and other.timings["extract_s"] == 0.0
        assert other.extra["features"]["key"] == first.extra["features"]["key"]
    bigger = execute(RunConfig("negative", "coco-mini", mode="linear", workers=0,
                               recipe=ImageRecipe(backbone="test_resnet", image_size=40, lr=1e-3, epochs=3)),
                     store, progress=False).record
    assert bigger.extra["features"]["cache_hit"] is False
    assert np.isfinite(first.metrics["map_c"]) and first.test_scores().shape == (128 * 80,)


def test_linear_mode_keeps_feature_dataset_hashes():
    plain = resolve_config(RunConfig("negative", "scene"))
    assert set(plain.config["recipe"]) == {"epochs", "lr", "batch_size", "weight_decay", "pct_start", "head",
                                           "schedule", "lr_grid", "weight_decay_grid"}  # no image field


def test_unreadable_images_are_skipped_in_training_and_listed(tmp_path):
    root = tmp_path / "coco_mini"
    shutil.copytree(VENDORED, root)
    data = DATASETS.get("coco-mini")(root=str(root)).load()
    broken = [data.train.images[3], data.train.images[40], data.test.images[5]]
    for path in broken:
        Path(path).write_bytes(b"\xff\xd8\xff not really a jpeg")
    store = Store(tmp_path / "runs.db")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = execute(RunConfig("negative", f"coco-mini[root={root}]", mode="finetune", recipe=TINY,
                                   select_on="last", val_fraction=0.0, workers=2), store, progress=False).record
    assert record.status == "done"
    bad = record.extra["bad_images"]
    assert bad["train"]["count"] == 2 and set(bad["train"]["images"]) == set(broken[:2])
    assert bad["test"]["count"] == 1 and broken[2] in bad["test"]["images"]
    assert sum(issubclass(w.category, BadImageWarning) for w in caught) == 3
    assert record.cost["samples_per_s"] > 0 and record.extra["train_rows"] == 126


@pytest.mark.parametrize("argv, message", [
    (["--mode", "finetune", "--dataset", "scene"], "has features"),
    (["--mode", "finetune", "--dataset", "coco-mini", "--backbone", "resnet1800"], "did you mean 'resnet18'"),
    (["--mode", "finetune", "--dataset", "coco-mini", "--set", "amp=fp8"], "amp must be one of"),
    (["--mode", "finetune", "--dataset", "coco-mini", "--recipe", "nope"], "unknown recipe 'nope'"),
    (["--dataset", "scene", "--backbone", "resnet18"], "applies to image datasets only"),
])
def test_bad_options_are_one_line_usage_errors(argv, message, tmp_path):
    result = CliRunner().invoke(app, ["run", "--method", "negative", *argv, "--store", str(tmp_path / "s.db")])
    assert result.exit_code == 2 and message in result.output, result.output


@pytest.mark.parametrize("estimator", ["posthoc", "running"])
def test_csl_selective_estimates_its_prior_with_an_ignore_model_once(tmp_path, estimator):
    store = Store(tmp_path / "runs.db")
    config = RunConfig(f"selective[prior_estimator={estimator}]", "coco-mini+rpa[p=0.5]", mode="finetune",
                       recipe=TINY, workers=0)
    first = execute(config, store, progress=False).record
    prior = first.extra["artifacts"]["class_prior"]
    assert prior["source"] == "run" and prior["cached"] is False and prior["estimator"] == estimator
    assert -1.0 <= prior["spearman"] <= 1.0  # against coco-mini's true class frequencies
    again = execute(config, store, force=True, progress=False).record
    assert again.extra["artifacts"]["class_prior"]["cached"] is True and again.metrics == first.metrics
