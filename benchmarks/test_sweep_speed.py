"""A 24-cell sweep on ``scene`` (negative and selective x 4 values of gamma_neg x 3 seeds, 30
epochs) with the local executor (one process per cell, as many at once as this machine has CPUs)
against the same cells run one by one in this process (``bench.runs.execute.execute``), each round into
a fresh store. A third row, the local executor with one worker, isolates the executor's own cost
per cell (process, scratch store, copying the record) from what running cells side by side gains.
Both share the class prior per seed the same way (the engine's store cache one by
one, the sweep's dependency sharing), so they do the same work; the results must be identical.
Compare the two rows of group ``sweep-24-scene``; ``extra_info`` holds the peak resident memory.
Run: ``OMP_NUM_THREADS=1 python -m pytest benchmarks/test_sweep_speed.py``.
"""
from __future__ import annotations

import resource
import sys
import uuid
from pathlib import Path

import pytest

import bench.sweep.preload  # noqa: F401 - both sides start warm: imports and plugins loaded once
from bench.runs.execute import execute
from bench.store import Store
from bench.sweep.driver import run_sweep
from bench.sweep.executors import LocalExecutor, usable_cpus
from bench.sweep.grid import expand
from bench.sweep.shorthand import Shorthand, shorthand_spec

ROUNDS = 2
RESULTS: dict[str, Store] = {}


@pytest.fixture(scope="module")
def cells():
    grid = expand(shorthand_spec(Shorthand(methods="negative,selective", datasets="scene+rpa[p=0.5]", seeds="0,1,2",
                                           params=["gamma_neg=0,1,2,4"], epochs=30)))
    assert len(grid) == 24
    return grid


def _peak_mb(who: int) -> float:
    peak = resource.getrusage(who).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _fresh_store(tmp_path: Path, name: str) -> tuple[tuple[Store], dict]:
    store = Store(tmp_path / f"{name}-{uuid.uuid4().hex[:8]}.db")
    RESULTS[name] = store
    return (store,), {}


def _record_memory(benchmark, cell_processes: bool) -> None:
    """Peak resident memory of this process and, for the sweep, of its largest cell process (pages
    shared with the driver through fork included)."""
    benchmark.extra_info["peak_rss_driver_mb"] = round(_peak_mb(resource.RUSAGE_SELF), 1)
    if cell_processes:
        benchmark.extra_info["peak_rss_largest_cell_process_mb"] = round(_peak_mb(resource.RUSAGE_CHILDREN), 1)
    benchmark.extra_info["usable_cpus"] = usable_cpus()


@pytest.mark.benchmark(group="sweep-24-scene")
def test_sweep_local_executor(benchmark, cells, tmp_path):
    def sweep(store: Store) -> None:
        assert run_sweep(cells, store, LocalExecutor()).done == 24

    benchmark.pedantic(sweep, setup=lambda: _fresh_store(tmp_path, "sweep"), rounds=ROUNDS, iterations=1)
    _record_memory(benchmark, cell_processes=True)


@pytest.mark.benchmark(group="sweep-24-scene")
def test_sweep_local_executor_one_worker(benchmark, cells, tmp_path):
    def sweep(store: Store) -> None:
        assert run_sweep(cells, store, LocalExecutor(workers=1)).done == 24

    benchmark.pedantic(sweep, setup=lambda: _fresh_store(tmp_path, "sweep_one_worker"), rounds=ROUNDS, iterations=1)


@pytest.mark.benchmark(group="sweep-24-scene")
def test_one_by_one_baseline(benchmark, cells, tmp_path):
    def one_by_one(store: Store) -> None:
        for cell in cells:
            assert execute(cell.run, store, progress=False).status == "done"

    benchmark.pedantic(one_by_one, setup=lambda: _fresh_store(tmp_path, "one_by_one"), rounds=ROUNDS, iterations=1)
    _record_memory(benchmark, cell_processes=False)


def test_same_results():
    if set(RESULTS) != {"sweep", "sweep_one_worker", "one_by_one"}:
        pytest.skip("needs the benchmarks of this file to have run first")
    maps = {name: {r.config_hash: r.metrics["map_c"] for r in store.runs()} for name, store in RESULTS.items()}
    assert len(maps["sweep"]) == 24
    assert maps["sweep"] == maps["sweep_one_worker"] == maps["one_by_one"]
