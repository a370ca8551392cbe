"""A failing cell (exception before its run is recorded, NaN loss, a worker killed as by the
out-of-memory killer) is stored as failed with its reason, and the sweep goes on."""
from __future__ import annotations

import pytest

from bench.store import Store
from bench.sweep.driver import run_sweep
from bench.sweep.executors import LocalExecutor, exit_reason
from bench.sweep.grid import expand
from bench.sweep.shorthand import Shorthand, shorthand_spec
from bench.sweep.state import cell_states
from tests.helpers.plugins import temporary_plugins

FAILING_METHODS = {
    "methods/failing.py": """
        import os
        import signal

        import torch

        from bench import Method, register_method


        @register_method("nan-loss")
        class NanLoss(Method):
            version = "1"

            def loss(self, logits, labels, state=None):
                return logits.sum() * float("nan")


        @register_method("killed")
        class Killed(Method):
            version = "1"

            def loss(self, logits, labels, state=None):
                os.kill(os.getpid(), signal.SIGKILL)
    """,
}


def test_failing_cells_are_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    store = Store(tmp_path / "bench.db")
    with temporary_plugins(tmp_path / "plugins", monkeypatch, FAILING_METHODS):
        cells = expand(shorthand_spec(Shorthand(methods="killed,nan-loss,negative", datasets="scene,scene[root=/nope]",
                                                epochs=1)))
        # a fork server started apart from this process: the plugin path reaches the cells with their tasks
        summary = run_sweep(cells, store, LocalExecutor(workers=1, method="forkserver"))
    reasons = {(r.method, r.dataset): r.error for r in store.runs()}
    assert len(reasons) == 6 and summary.done == 1 and len(summary.failed) == 5
    assert reasons[("negative", "scene")] is None
    assert reasons[("killed", "scene")] == exit_reason(-9)
    assert "killed by SIGKILL" in exit_reason(-9)
    assert reasons[("nan-loss", "scene")].startswith("TrainingError: method 'nan-loss': loss is nan")
    assert all("DataError: /nope/scene.npz: dataset 'scene': scene.npz not found" == reasons[(m, "scene[root=/nope]")]
               for m in ("killed", "nan-loss", "negative"))
    manifests = {(r.method, r.dataset): r.manifest_sha256 for r in store.runs()}
    assert len(manifests[("nan-loss", "scene")]) == 64    # recorded by the engine in the worker
    assert manifests[("negative", "scene[root=/nope]")] == ""   # recorded by the driver: no manifest
    assert [s.state for s in cell_states(cells, store)] == ["failed", "failed", "done"] + ["failed"] * 3


def test_retry_failed_runs_only_the_failed_cells(tmp_path):
    store = Store(tmp_path / "bench.db")
    cells = expand(shorthand_spec(Shorthand(methods="negative", datasets="scene", seeds="0,1", epochs=1)))
    store.fail_run(store.start_run(config=cells[1].config, config_hash=cells[1].config_hash, method=cells[1].method,
                                   dataset=cells[1].dataset, seed=1, split_seed=0, manifest_sha256=""), "boom")
    first = run_sweep(cells, store, LocalExecutor(workers=1, method="fork"))
    assert [r.seed for r in first.records] == [0] and first.skipped_failed == 1
    again = run_sweep(cells, store, LocalExecutor(workers=1, method="fork"), retry_failed=True)
    assert [r.seed for r in again.records] == [1] and again.skipped_done == 1
    assert [s.state for s in cell_states(cells, store)] == ["done", "done"]


@pytest.mark.parametrize("code, text", [(-15, "killed by SIGTERM"), (3, "exited with code 3")])
def test_exit_reasons(code, text):
    assert text in exit_reason(code)
