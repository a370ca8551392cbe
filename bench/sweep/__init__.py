"""Sweeps: grids of methods x parameters x datasets x seeds, run on a local pool or a Ray cluster.

``spec`` / ``shorthand`` (a YAML spec or the ``bench sweep`` options -> ``SweepSpec``), ``grid``
(the spec -> ``Cell`` list, each a resolved ``bench run`` configuration), ``state`` (resume:
done / failed / pending per config hash), ``deps`` (the class prior shared by Selective cells),
``worker`` (one cell in a scratch store), ``executors`` / ``ray_executor`` (where cells run),
``recording`` (the driver writes results into the store), ``driver`` (``run_sweep``), ``live``
(the rich view). See docs/sweeps.md.
"""
from __future__ import annotations

from bench.sweep.driver import SweepSummary, run_sweep
from bench.sweep.executors import ExecutorError, LocalExecutor, make_executor
from bench.sweep.grid import Cell, expand
from bench.sweep.spec import SpecError, SweepSpec, load_spec

__all__ = [
    "Cell", "ExecutorError", "LocalExecutor", "SpecError", "SweepSpec", "SweepSummary", "expand", "load_spec",
    "make_executor", "run_sweep",
]
