"""``bench.runs.tracking``: ``--log tensorboard`` / ``--log mlflow`` on real scene runs, read back
offline with TensorBoard's event reader and MLflow's client."""
from __future__ import annotations

import importlib.util

import pytest
from typer.testing import CliRunner

from bench.cli.app import app
from bench.core.errors import InputError
from bench.runs import tracking
from bench.runs.config import RunConfig, resolve_config
from bench.runs.execute import RunFailed, execute
from bench.runs.recipe import Recipe
from bench.store import Store
from tests.helpers.plugins import temporary_plugins

pytest.importorskip("tensorboard", reason="the tracking extra is not installed: pip install 'bench[tracking]'")
pytest.importorskip("mlflow", reason="the tracking extra is not installed: pip install 'bench[tracking]'")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from bench.runs.mlflow_tracker import client_for, flatten  # noqa: E402

FAST = Recipe(epochs=3, batch_size=128, lr=3e-3)
GRID = Recipe(epochs=3, batch_size=128, lr=3e-3, weight_decay_grid=(1e-4, 3.0))
FAILS = """
    import torch
    from bench import Method, Param, register_method

    @register_method("tmp-fails-late")
    class FailsLate(Method):
        parameters = {"interrupt": Param(False)}

        def loss(self, logits, labels, state=None):
            if state.epoch == 2:
                if self.interrupt:
                    raise KeyboardInterrupt
                raise RuntimeError("boom in epoch 2")
            return torch.nn.functional.softplus(-logits * labels.float()).mean()
"""


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "runs.db")


def scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value), ...]} of the TensorBoard event files in ``folder``."""
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_tensorboard_gets_loss_lr_and_val_map_per_step_and_per_epoch_in_the_run_folder(store):
    record = execute(RunConfig("negative", "scene+rpa[p=0.5]", recipe=FAST, log=("tensorboard",)), store,
                     progress=False).record
    folder = store.path.parent / "runs" / record.id / "tensorboard"
    assert record.extra["trackers"] == {"tensorboard": {"path": str(folder)}}
    curves = scalars(folder)
    history = record.extra["history"]
    assert [step for step, _ in curves["epoch/loss"]] == [1, 2, 3] == [h["epoch"] for h in history]
    assert [v for _, v in curves["epoch/loss"]] == pytest.approx([h["loss"] for h in history], rel=1e-6)
    assert [v for _, v in curves["epoch/val_map_c"]] == pytest.approx([h["val_map_c"] for h in history], rel=1e-6)
    steps = record.cost["steps"]
    assert [step for step, _ in curves["step/loss"]] == list(range(steps))
    assert len(curves["step/lr"]) == steps and len(curves["epoch/lr"]) == 3
    assert curves["step/lr"][0][1] < max(v for _, v in curves["step/lr"])  # the one-cycle warm-up is visible
    assert curves["final/map_c"] == [(0, pytest.approx(record.metrics["map_c"], rel=1e-6))]


def test_each_candidate_of_a_grid_has_its_own_curves(store):
    record = execute(RunConfig("negative", "scene", recipe=GRID, log=("tensorboard",)), store, progress=False).record
    curves = scalars(store.path.parent / "runs" / record.id / "tensorboard")
    for index, candidate in enumerate(record.selection["candidates"]):
        assert len(curves[f"candidate{index}/epoch/val_map_c"]) == candidate["epochs"]
        assert len(curves[f"candidate{index}/step/loss"]) == candidate["steps"]
    chosen = record.selection["candidate"]
    assert [v for _, v in curves[f"candidate{chosen}/epoch/val_map_c"]] == pytest.approx(
        [h["val_map_c"] for h in record.extra["history"]], rel=1e-6)
    assert not any(tag.startswith("epoch/") for tag in curves)


def test_mlflow_gets_the_flattened_configuration_the_epoch_metrics_and_the_final_record(store):
    record = execute(RunConfig("negative", "scene+rpa[p=0.5]", recipe=FAST, log=("mlflow",)), store,
                     progress=False).record
    where = record.extra["trackers"]["mlflow"]
    assert where["tracking_uri"] == (store.path.parent / "mlruns").resolve().as_uri()
    client = client_for(where["tracking_uri"])
    run = client.get_run(where["run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["bench.run_id"] == record.id
    assert run.data.tags["bench.config_hash"] == record.config_hash
    params = run.data.params
    assert params["method.name"] == "negative" and params["recipe.epochs"] == "3"
    assert params["recipe.lr"] == str(record.config["recipe"]["lr"]) and params["seed"] == "0"
    assert params["selection.epoch"] == str(record.selection["epoch"])
    history = record.extra["history"]
    for key in ("loss", "val_map_c"):
        logged = client.get_metric_history(where["run_id"], key)
        assert [m.step for m in logged] == [1, 2, 3]
        assert [m.value for m in logged] == pytest.approx([h[key] for h in history])
    assert run.data.metrics["final/map_c"] == pytest.approx(record.metrics["map_c"])
    assert run.data.metrics["final/map_o"] == pytest.approx(record.metrics["map_o"])
    assert not client.get_metric_history(where["run_id"], "step/loss")  # per-step curves go to TensorBoard


def test_mlflow_tracking_uri_and_experiment_come_from_the_environment(store, tmp_path, monkeypatch):
    uri = (tmp_path / "elsewhere").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "mine")
    record = execute(RunConfig("negative", "scene", recipe=FAST, log=("mlflow",)), store, progress=False).record
    where = record.extra["trackers"]["mlflow"]
    assert (where["tracking_uri"], where["experiment"]) == (uri, "mine")
    assert client_for(uri).get_run(where["run_id"]).info.status == "FINISHED"
    assert not (store.path.parent / "mlruns").exists()


@pytest.mark.parametrize(("interrupt", "error", "status"), [(False, RunFailed, "FAILED"),
                                                             (True, KeyboardInterrupt, "KILLED")])
def test_a_failed_or_interrupted_run_ends_its_mlflow_run_so(interrupt, error, status, store, tmp_path, monkeypatch):
    with temporary_plugins(tmp_path / "plugins", monkeypatch, {"methods/fails_late.py": FAILS}):
        with pytest.raises(error):
            execute(RunConfig(f"tmp-fails-late[interrupt={interrupt}]", "scene", recipe=FAST,
                              log=("mlflow", "tensorboard")), store, progress=False)
    client = client_for((store.path.parent / "mlruns").as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("bench").experiment_id])
    assert run.info.status == status
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [1]
    (folder,) = (store.path.parent / "runs").iterdir()
    assert len(scalars(folder / "tensorboard")["epoch/loss"]) == 1


def test_log_says_how_not_what_it_leaves_the_configuration_hash_alone():
    plain = resolve_config(RunConfig("negative", "scene+rpa[p=0.5]", recipe=FAST))
    logged = resolve_config(RunConfig("negative", "scene+rpa[p=0.5]", recipe=FAST, log=("tensorboard", "mlflow")))
    assert logged.config_hash == plain.config_hash and logged.config == plain.config


def test_a_run_without_log_is_unchanged_and_records_no_trackers(store):
    record = execute(RunConfig("negative", "scene", recipe=FAST), store, progress=False).record
    assert "trackers" not in record.extra and not (store.path.parent / "runs").exists()
    assert tracking.current_tracker() is tracking.NO_TRACKER


def test_cli_log_is_repeatable_and_a_done_run_with_log_is_skipped(tmp_path):
    db = tmp_path / "s.db"
    argv = ["run", "--method", "negative", "--dataset", "scene", "--epochs", "2", "--store", str(db), "--quiet"]
    first = CliRunner().invoke(app, [*argv, "--log", "tensorboard", "--log", "mlflow"])
    assert first.exit_code == 0, first.output
    (record,) = Store(db).runs()
    assert set(record.extra["trackers"]) == {"tensorboard", "mlflow"}
    again = CliRunner().invoke(app, [*argv, "--log", "mlflow"])
    assert again.exit_code == 0 and "skipped" in again.output


def hide(package: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``package`` look uninstalled to ``importlib.util.find_spec``."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *rest: None if name == package else real(name, *rest))


@pytest.mark.parametrize(("name", "package"), [("tensorboard", "tensorboard"), ("mlflow", "mlflow")])
def test_a_missing_tracker_package_is_a_one_line_input_error_before_the_run(name, package, tmp_path, monkeypatch):
    db = tmp_path / "s.db"
    hide(package, monkeypatch)
    message = rf"^--log {name} needs the {package} package: pip install 'bench\[tracking\]'$"
    with pytest.raises(InputError, match=message):
        resolve_config(RunConfig("negative", "scene", log=(name,)))
    result = CliRunner().invoke(app, ["run", "--dataset", "scene", "--epochs", "1", "--store", str(db), "--log", name])
    assert result.exit_code == 2
    assert f"--log {name} needs the {package} package" in result.output
    assert not Store(db).runs()


def test_an_unknown_tracker_is_refused():
    with pytest.raises(InputError, match="--log must be one of tensorboard, mlflow; got 'wandb'"):
        resolve_config(RunConfig("negative", "scene", log=("wandb",)))


def test_flatten_gives_dotted_keys_and_json_leaves():
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": None, "f": {}, "g[h]": True}) == {
        "a.b": "1", "a.c": "[1, 2]", "d": "x", "e": "null", "f": "{}", "g_h_": "true"}


def test_tracking_does_not_change_what_is_computed(tmp_path):
    plain = execute(RunConfig("negative", "scene+rpa[p=0.5]", recipe=GRID), Store(tmp_path / "a.db"),
                    progress=False).record
    logged = execute(RunConfig("negative", "scene+rpa[p=0.5]", recipe=GRID, log=("tensorboard", "mlflow")),
                     Store(tmp_path / "b.db"), progress=False).record
    def untimed(record):
        return [{k: v for k, v in h.items() if k != "seconds"} for h in record.extra["history"]]

    assert logged.metrics == plain.metrics and untimed(logged) == untimed(plain)
    assert (logged.test_scores() == plain.test_scores()).all()


def test_the_temporary_model_of_a_class_prior_logs_under_prior(store):
    record = execute(RunConfig("selective", "scene+rpa[p=0.5]", recipe=FAST, log=("tensorboard",)), store,
                     progress=False).record
    assert "class_prior" in record.extra["artifacts"]
    curves = scalars(store.path.parent / "runs" / record.id / "tensorboard")
    assert [step for step, _ in curves["prior/epoch/loss"]] == [1, 2, 3] and "prior/epoch/val_map_c" not in curves
    assert curves["prior/step/loss"][0][0] == 0 == curves["step/loss"][0][0]
    assert len(curves["epoch/val_map_c"]) == len(record.extra["history"])
