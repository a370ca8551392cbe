"""Commands that do not train never import torch, timm or torchvision (each checked in a fresh
process); a ``bench run`` that is already done decides so before importing them. Timings live in
``benchmarks/test_startup.py``."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("torch", "timm", "torchvision")
PROBE = f"""
import atexit, json, sys
sys.argv = ["bench", *json.loads(sys.argv[1])]
atexit.register(lambda: print("HEAVY=" + json.dumps(sorted(m for m in {HEAVY} if m in sys.modules)), file=sys.stderr))
from bench.cli.app import main
main()
"""  # atexit: bench ends through exit_process, which runs the atexit handlers and then os._exit


def bench(args: list[str], env: dict[str, str]) -> tuple[int, str, list[str]]:
    """(exit code, stdout + stderr, heavy modules imported) of ``bench ARGS`` in a fresh process."""
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True,
                          env=env, timeout=600)
    lines = done.stderr.splitlines()
    heavy = json.loads(next(line for line in lines if line.startswith("HEAVY="))[len("HEAVY="):])
    stderr = "".join(f"{line}\n" for line in lines if not line.startswith("HEAVY="))
    return done.returncode, done.stdout + stderr, heavy


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("startup")
    return {**os.environ, "BENCH_STORE": str(folder / "bench.db"), "BENCH_CACHE_DIR": str(folder / "cache"),
            "OMP_NUM_THREADS": "1", "COLUMNS": "200"}


@pytest.fixture(scope="module")
def run_id(env):
    code, output, heavy = bench(["run", "--method", "negative", "--dataset", "scene", "--epochs", "2", "-q"], env)
    assert code == 0 and "done" in output and "torch" in heavy, output
    return output.split("run ", 1)[1].split()[0]


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["list", "protocols"], ["runs"], ["runs", "--json"],
                                  ["report"], ["store", "gc", "--dry-run"], ["sweep", "--help"]])
def test_reading_commands_import_no_torch(env, run_id, args):
    code, output, heavy = bench(args, env)
    assert code == 0, output
    assert heavy == [], f"bench {' '.join(args)} imported {heavy}"


def test_show_imports_no_torch(env, run_id):
    code, output, heavy = bench(["show", run_id], env)
    assert code == 0 and run_id in output, output
    assert heavy == []


@pytest.mark.parametrize("what", ["methods", "datasets"])
def test_listing_plugins_imports_them_once_then_reads_the_index(env, what):
    first = bench(["list", what], env)
    second = bench(["list", what], env)
    assert first[0] == 0 and second[0] == 0 and first[1] == second[1]
    assert second[2] == [], f"bench list {what} imported {second[2]} with an up-to-date index"
    if what == "datasets":
        assert first[2] == []  # the dataset plugins import no torch, and only they are imported


def test_a_done_run_is_skipped_before_importing_torch(env):
    args = ["run", "--method", "ignore", "--dataset", "scene+rpa[p=0.5]", "--epochs", "2", "-q"]
    code, output, heavy = bench(args, env)
    assert code == 0 and "done" in output and "torch" in heavy, output
    run_id = output.split("run ", 1)[1].split()[0]
    code, output, heavy = bench(args, env)
    assert code == 0 and f"already done as run {run_id}" in output, output
    assert heavy == []


def test_a_changed_option_resolves_in_full(env, run_id):
    code, output, heavy = bench(["run", "--method", "negative", "--dataset", "scene", "--epochs", "1", "-q"], env)
    assert code == 0 and "done" in output and "torch" in heavy, output
