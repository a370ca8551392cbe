"""The ray executor end to end on ``scene`` against a local Ray instance with 2 CPUs: cells run in
Ray workers, the prior is trained once and shipped, records come back to the driver's store, and a
cell's result equals the same configuration run in this process."""
from __future__ import annotations

import os

import numpy as np
import pytest

from bench.runs.execute import execute
from bench.store import Store
from bench.sweep.deps import PRIOR
from bench.sweep.driver import run_sweep
from bench.sweep.grid import expand
from bench.sweep.shorthand import Shorthand, shorthand_spec

ray = pytest.importorskip("ray", reason="the ray executor needs the optional extra bench[ray]")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_ray_executor_end_to_end_on_scene(tmp_path, local_ray):
    from bench.sweep.ray_executor import RayExecutor

    store = Store(tmp_path / "bench.db")
    cells = expand(shorthand_spec(Shorthand(methods="negative,selective", datasets="scene+rpa[p=0.5]",
                                            params=["gamma_neg=1,2"], epochs=1)))
    executor = RayExecutor()
    assert executor.slots == 2
    summary = run_sweep(cells, store, executor)
    assert ray.is_initialized()  # the executor joined the caller's instance and left it running
    assert summary.done == 4 and not summary.failed
    runs = {r.method: r for r in store.runs()}
    assert set(runs) == {"negative[gamma_neg=1]", "negative[gamma_neg=2]", "selective[gamma_neg=1]",
                         "selective[gamma_neg=2]"}
    assert all(r.pid != os.getpid() for r in runs.values())   # ran in Ray workers
    priors = [runs[f"selective[gamma_neg={g}]"].extra["artifacts"][PRIOR] for g in (1, 2)]
    assert sorted(p["cached"] for p in priors) == [False, True] and priors[0]["key"] == priors[1]["key"]
    assert store.get_artifact(PRIOR, priors[0]["key"]) is not None   # sent back to the driver's store

    local = Store(tmp_path / "local.db")
    here = execute(cells[0].run, local, progress=False).record
    remote = runs[cells[0].method]
    assert remote.config_hash == here.config_hash
    assert remote.metrics["map_c"] == here.metrics["map_c"]
    assert np.array_equal(remote.test_scores(), here.test_scores())


@pytest.mark.slow
def test_bench_sweep_executor_ray_command(tmp_path, local_ray):
    from typer.testing import CliRunner

    from bench.cli.app import app

    store = tmp_path / "cli.db"
    args = ["sweep", "--method", "negative", "--dataset", "scene", "--seeds", "0,1", "--epochs", "1",
            "--executor", "ray", "--no-live", "--store", str(store)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "sweep of 2 cells: 2 done now, 0 failed, 0 already done (skipped)" in result.output
    assert sorted(r.seed for r in Store(store).runs(status="done")) == [0, 1]


@pytest.mark.slow
def test_ray_cells_log_beside_the_drivers_store_with_the_drivers_mlflow_location(tmp_path, local_ray, monkeypatch):
    pytest.importorskip("tensorboard", reason="the tracking extra is not installed: pip install 'bench[tracking]'")
    pytest.importorskip("mlflow", reason="the tracking extra is not installed: pip install 'bench[tracking]'")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from bench.runs.mlflow_tracker import client_for
    from bench.sweep.ray_executor import RayExecutor

    uri = (tmp_path / "elsewhere").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # set after the workers started: the task carries it
    store = Store(tmp_path / "bench.db")
    cells = expand(shorthand_spec(Shorthand(methods="negative", datasets="scene", epochs=1,
                                            run={"log": ["tensorboard", "mlflow"]})))
    summary = run_sweep(cells, store, RayExecutor())
    assert summary.done == 1 and not summary.failed
    (record,) = store.runs()
    assert record.pid != os.getpid()
    folder = tmp_path / "runs" / record.id / "tensorboard"
    assert record.extra["trackers"]["tensorboard"] == {"path": str(folder.resolve())}
    events = EventAccumulator(str(folder))
    events.Reload()
    assert any(tag.endswith("epoch/val_map_c") for tag in events.Tags()["scalars"])
    where = record.extra["trackers"]["mlflow"]
    assert where["tracking_uri"] == uri
    assert client_for(uri).get_run(where["run_id"]).data.tags["bench.run_id"] == record.id
