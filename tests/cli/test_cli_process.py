"""The installed ``bench`` console script in a real process: Ctrl-C (SIGINT) mid-run leaves the run
recorded as failed with its reason and exits 130; a finished store is untouched by it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from bench.runs.config import RunConfig
from bench.runs.execute import execute
from bench.runs.recipe import Recipe
from bench.store import Store

BENCH = Path(sys.executable).with_name("bench")
SLOW = """
    import time
    import torch
    from bench import Method, register_method

    @register_method("tmp-slow")
    class Slow(Method):
        def loss(self, logits, labels, state=None):
            time.sleep(0.05)
            return torch.nn.functional.softplus(-logits * labels.float()).sum()
"""


def _wait_for_running(store: Store, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"bench exited early: {process.communicate()}")
        if store.path.exists() and store.runs(status="running"):
            time.sleep(0.5)  # inside the training loop
            return
        time.sleep(0.2)
    raise AssertionError("the run never started")


def test_sigint_mid_run_records_failure_and_exits_130(tmp_path):
    plugins = tmp_path / "plugins" / "methods"
    plugins.mkdir(parents=True)
    (plugins / "slow.py").write_text(textwrap.dedent(SLOW))
    store_path = tmp_path / "proc.db"
    env = {**os.environ, "BENCH_STORE": str(store_path), "BENCH_PLUGIN_PATH": str(plugins.parent),
           "OMP_NUM_THREADS": "1"}
    store = Store(store_path)
    before = execute(RunConfig("negative", "scene", recipe=Recipe(epochs=2)), store, progress=False).record
    process = subprocess.Popen([str(BENCH), "run", "--method", "tmp-slow", "--epochs", "50", "--quiet"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_running(store, process)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    runs = {r.method: r for r in store.runs()}
    assert runs["tmp-slow"].status == "failed" and runs["tmp-slow"].error == "interrupted"
    assert runs["negative"].to_dict() == before.to_dict()
