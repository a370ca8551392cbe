"""``--log tensorboard`` / ``--log mlflow`` on a tiny finetune run (coco-mini, timm test_resnet at 32 px, 2
epochs): per-step loss and lr, per-epoch loss, lr and the raw and EMA validation mAP(C)."""
from __future__ import annotations

import pytest

from bench.runs.config import RunConfig
from bench.runs.execute import execute
from bench.runs.recipe import ImageRecipe
from bench.store import Store

pytest.importorskip("tensorboard", reason="the tracking extra is not installed: pip install 'bench[tracking]'")
pytest.importorskip("mlflow", reason="the tracking extra is not installed: pip install 'bench[tracking]'")

from bench.runs.mlflow_tracker import client_for  # noqa: E402
from tests.runs.test_tracking import scalars  # noqa: E402

TINY = ImageRecipe(backbone="test_resnet", image_size=32, epochs=2, batch_size=64)


def test_a_finetune_run_logs_its_curves_to_both_trackers(tmp_path):
    store = Store(tmp_path / "runs.db")
    config = RunConfig("negative", "coco-mini", mode="finetune", recipe=TINY, workers=0, log=("tensorboard", "mlflow"))
    record = execute(config, store, progress=False).record
    history, steps = record.extra["history"], record.cost["steps"]
    assert [h["epoch"] for h in history] == [1, 2]
    curves = scalars(record.extra["trackers"]["tensorboard"]["path"])
    assert [step for step, _ in curves["step/loss"]] == list(range(steps)) and len(curves["step/lr"]) == steps
    for variant in ("raw", "ema"):
        key = f"val_map_c_{variant}"
        assert [(step, pytest.approx(value, rel=1e-6)) for step, value in curves[f"epoch/{key}"]] == [
            (h["epoch"], h[key]) for h in history]
    assert [v for _, v in curves["epoch/loss"]] == pytest.approx([h["loss"] for h in history], rel=1e-6)
    assert len(curves["epoch/images_per_s"]) == 2 and len(curves["epoch/lr"]) == 2
    where = record.extra["trackers"]["mlflow"]
    client = client_for(where["tracking_uri"])
    run = client.get_run(where["run_id"])
    assert run.info.status == "FINISHED" and run.data.params["recipe.backbone"] == "test_resnet"
    assert run.data.params["mode"] == "finetune" and run.data.params["selection.variant"] == record.selection["variant"]
    for key in ("val_map_c_raw", "val_map_c_ema", "loss"):
        assert [(m.step, pytest.approx(m.value)) for m in client.get_metric_history(where["run_id"], key)] == [
            (h["epoch"], h[key]) for h in history]
    assert run.data.metrics["final/map_c"] == pytest.approx(record.metrics["map_c"])
