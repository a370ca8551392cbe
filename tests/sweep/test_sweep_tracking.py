"""``bench sweep --log tensorboard|mlflow`` and a spec's ``run: {log: ...}``: every cell logs as
``bench run --log`` does, its files beside the main store (not the worker's scratch store), read
back offline with TensorBoard's event reader and MLflow's client."""
from __future__ import annotations

import importlib.util

import pytest
from typer.testing import CliRunner

from bench.cli.app import app
from bench.runs import tracking
from bench.store import Store
from bench.sweep.driver import run_sweep
from bench.sweep.executors import LocalExecutor
from bench.sweep.grid import expand
from bench.sweep.shorthand import Shorthand, shorthand_spec
from bench.sweep.spec import SpecError, load_spec
from bench.sweep.worker import forwarded_env

pytest.importorskip("tensorboard", reason="the tracking extra is not installed: pip install 'bench[tracking]'")
pytest.importorskip("mlflow", reason="the tracking extra is not installed: pip install 'bench[tracking]'")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from bench.runs.mlflow_tracker import client_for  # noqa: E402

SPEC = """\
methods: [negative, ignore]
datasets: [scene]
recipe: {{epochs: 2, lr: 3.0e-3, weight_decay: 1.0e-4, batch_size: 128}}  # one candidate: no prefix
run: {{select_on: val{log}}}
"""


def scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value), ...]} of the TensorBoard event files in ``folder``."""
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def spec_file(tmp_path, log: str = ""):
    path = tmp_path / "sweep.yaml"
    path.write_text(SPEC.format(log=log))
    return path


def test_every_cell_writes_its_event_files_beside_the_main_store_and_records_them(tmp_path):
    store = Store(tmp_path / "main" / "bench.db")
    cells = expand(load_spec(spec_file(tmp_path, ", log: tensorboard")))
    assert [c.run.log for c in cells] == [("tensorboard",)] * 2
    summary = run_sweep(cells, store, LocalExecutor(workers=2))
    assert summary.done == 2 and not summary.failed
    records = store.runs()
    assert {r.method for r in records} == {"negative", "ignore"}
    for record in records:
        folder = tmp_path / "main" / "runs" / record.id / "tensorboard"
        assert record.extra["trackers"] == {"tensorboard": {"path": str(folder.resolve())}}
        curves = scalars(folder)
        history = record.extra["history"]
        assert [step for step, _ in curves["epoch/loss"]] == [h["epoch"] for h in history]
        assert [v for _, v in curves["epoch/loss"]] == pytest.approx([h["loss"] for h in history], rel=1e-6)
        assert [v for _, v in curves["epoch/val_map_c"]] == pytest.approx([h["val_map_c"] for h in history],
                                                                           rel=1e-6)
        assert len(curves["epoch/lr"]) == len(history) and len(curves["step/lr"]) == record.cost["steps"]
        assert curves["final/map_c"] == [(0, pytest.approx(record.metrics["map_c"], rel=1e-6))]
    assert sorted(p.name for p in (tmp_path / "main" / "runs").iterdir()) == sorted(r.id for r in records)


def test_cli_log_mlflow_replaces_the_specs_trackers_and_a_sweep_without_log_writes_none(tmp_path):
    db = tmp_path / "bench.db"
    argv = ["sweep", str(spec_file(tmp_path, ", log: [tensorboard]")), "--set", "epochs=1", "--no-live",
            "--workers", "2", "--store", str(db)]
    result = CliRunner().invoke(app, [*argv, "--log", "mlflow"])
    assert result.exit_code == 0, result.output
    records = Store(db).runs()
    assert len(records) == 2 and not (tmp_path / "runs").exists()  # --log mlflow replaced run.log
    uri = (tmp_path / "mlruns").resolve().as_uri()
    client = client_for(uri)
    for record in records:
        where = record.extra["trackers"]["mlflow"]
        assert (where["tracking_uri"], where["experiment"]) == (uri, "bench")
        run = client.get_run(where["run_id"])
        assert run.info.status == "FINISHED" and run.data.tags["bench.run_id"] == record.id
        assert run.data.tags["bench.config_hash"] == record.config_hash
        assert [m.step for m in client.get_metric_history(where["run_id"], "val_map_c")] == [1]
        assert run.data.metrics["final/map_c"] == pytest.approx(record.metrics["map_c"])

    plain = tmp_path / "plain"
    plain.mkdir()
    result = CliRunner().invoke(app, ["sweep", str(spec_file(plain)), "--set", "epochs=1", "--no-live",
                                      "--workers", "2", "--store", str(plain / "bench.db")])
    assert result.exit_code == 0, result.output
    assert all("trackers" not in r.extra for r in Store(plain / "bench.db").runs())
    assert sorted(p.name for p in plain.iterdir()) == ["bench.db", "sweep.yaml"]


@pytest.mark.parametrize(("log", "message"), [
    (", log: wandb", r"sweep.yaml, line 4, field 'run.log': unknown tracker 'wandb'; known: tensorboard, mlflow"),
    (", log: [tensorbord]", r"field 'run.log': unknown tracker 'tensorbord' \(did you mean 'tensorboard'\?\)"),
])
def test_unknown_trackers_in_a_spec_name_the_file_line_and_field(tmp_path, log, message):
    with pytest.raises(SpecError, match=message):
        load_spec(spec_file(tmp_path, log))


def test_spec_log_forms_and_trackers_are_not_a_variant(tmp_path):
    assert load_spec(spec_file(tmp_path, ", log: tensorboard")).run["log"] == ("tensorboard",)
    assert load_spec(spec_file(tmp_path, ", log: [mlflow, tensorboard, mlflow]")).run["log"] == (
        "mlflow", "tensorboard")
    assert load_spec(spec_file(tmp_path, ", log: []")).run["log"] == ()
    path = tmp_path / "variants.yaml"
    path.write_text("methods: [negative]\ndatasets: [scene]\nvariants:\n  a: {log: tensorboard}\n")
    with pytest.raises(SpecError, match=r"line 4, field 'variants.a.log': trackers observe the whole sweep"):
        load_spec(path)


def test_a_missing_tracker_package_is_refused_before_anything_runs(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *rest: None if name == "mlflow" else real(name, *rest))
    with pytest.raises(SpecError, match=r"field 'run.log': tracker 'mlflow' needs the mlflow package: pip install"):
        load_spec(spec_file(tmp_path, ", log: mlflow"))
    db = tmp_path / "bench.db"
    result = CliRunner().invoke(app, ["sweep", "--method", "negative", "--dataset", "scene", "--epochs", "1",
                                      "--no-live", "--store", str(db), "--log", "mlflow"])
    assert result.exit_code == 2 and "--log mlflow needs the mlflow package" in result.output
    assert not Store(db).runs()


def test_the_shorthand_and_help_take_log():
    cells = expand(shorthand_spec(Shorthand(methods="negative", datasets="scene", run={"log": ["tensorboard"]})))
    assert cells[0].run.log == ("tensorboard",)
    result = CliRunner().invoke(app, ["sweep", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "--log" in result.output and "tensorboard" in result.output


def test_tracking_home_moves_the_files_and_workers_share_the_mlflow_location(tmp_path, monkeypatch):
    target = tracking.TrackingTarget("r1", tmp_path / "scratch" / "cell.db", {}, "h", "negative", "scene")
    assert tracking.at_home(target) is target
    with tracking.tracking_home(tmp_path / "main.db"):
        assert tracking.at_home(target).store_path == (tmp_path / "main.db").resolve()
    assert tracking.at_home(target) is target
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking:5000")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "mine")
    assert {"MLFLOW_TRACKING_URI": "http://tracking:5000", "MLFLOW_EXPERIMENT_NAME": "mine"}.items() <= \
        forwarded_env().items()
