"""``bench report`` on a 500-run store (``benchmarks/report_store.py``: scene-sized runs as a sweep
leaves them), cold (no cached replicates) and warm (every replicate cached), each a fresh
``bench report`` process as a user runs it; the baseline, measured in the same run, is the same
report without the cache in one process (``bootstrap_cache=False, workers=1``). The three outputs
must be identical. Goals (issue 13, on 2 cores): warm <= 5 s, cold <= 30 s; the report before the
cache took 114 s on 518 runs. ``extra_info`` holds the CPU seconds of each (the wall time on a busy
machine overstates it).
Run: ``OMP_NUM_THREADS=1 python -m pytest benchmarks/test_report_speed.py -s``.
"""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from time import perf_counter

import pytest
from report_store import build_store

from bench.reporting import build_report
from bench.store import Store

WARM_GOAL_S, COLD_GOAL_S = 5.0, 30.0
BENCH = Path(sys.executable).with_name("bench")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "runs.db"
    build_store(path)
    return path


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _bench_report(store: Path) -> tuple[str, float, float]:
    """(Markdown, wall s, CPU s) of one ``bench report`` process."""
    cpu, start = _children_cpu(), perf_counter()
    done = subprocess.run([str(BENCH), "report", "--store", str(store)], capture_output=True, text=True, check=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    return done.stdout, perf_counter() - start, _children_cpu() - cpu


def test_cached_report_of_500_runs(benchmark, built, tmp_path, capsys):
    store = tmp_path / "cold.db"
    shutil.copy(built, store)
    cold, cold_s, cold_cpu = _bench_report(store)
    warm_times = []

    def warm_report():
        text, wall, cpu = _bench_report(store)
        warm_times.append((wall, cpu))
        return text

    warm = benchmark.pedantic(warm_report, rounds=3, iterations=1)
    start = perf_counter()
    uncached = build_report(Store(built), bootstrap_cache=False, workers=1)
    baseline_s = perf_counter() - start
    assert cold == warm == uncached
    warm_s, warm_cpu = min(warm_times)
    benchmark.extra_info.update(cold_s=cold_s, cold_cpu_s=cold_cpu, warm_s=warm_s, warm_cpu_s=warm_cpu,
                                uncached_in_process_s=baseline_s)
    with capsys.disabled():
        print(f"\nbench report, 500 runs: cold {cold_s:.1f} s (CPU {cold_cpu:.1f} s), warm {warm_s:.1f} s "
              f"(CPU {warm_cpu:.1f} s); uncached in one process {baseline_s:.1f} s "
              f"(warm {baseline_s / warm_s:.1f}x faster)")
    assert warm_s <= WARM_GOAL_S and cold_s <= COLD_GOAL_S
