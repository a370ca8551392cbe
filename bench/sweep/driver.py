"""The sweep driver: runs the cells a store still lacks on an executor and records every result.

``run_sweep`` skips done cells (and failed ones unless ``retry_failed``), then keeps the executor's
slots full with cells whose dependencies allow them to start (``DependencyPlan``), sending each the
shared artifacts it needs, and writes every finished cell into the store as it comes back
(``record_result``). A cell's trackers (``--log``) write beside this store, as ``bench run --log``
does. A failing cell is recorded as failed and the sweep goes on. On any exit
(Ctrl-C included) the cells still running are stopped; what was recorded stays, so running the
same sweep again finishes only the rest.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console

from bench.store import RunRecord, Store
from bench.sweep.deps import DependencyPlan
from bench.sweep.events import Executor, Finished
from bench.sweep.grid import Cell
from bench.sweep.live import SweepView
from bench.sweep.recording import record_result
from bench.sweep.state import cell_states, counts, to_run
from bench.sweep.worker import CellTask, forwarded_env

POLL_S = 0.5


@dataclass
class SweepSummary:
    """What a sweep did: cells in the grid, skipped (done before; failed before, not retried),
    and the records it wrote."""

    cells: int
    skipped_done: int
    skipped_failed: int
    records: list[RunRecord] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(r.status == "done" for r in self.records)

    @property
    def failed(self) -> list[RunRecord]:
        return [r for r in self.records if r.status != "done"]


def _next_ready(pending: list[Cell], deps: DependencyPlan) -> Cell | None:
    for cell in pending:
        if deps.ready(cell):
            return cell
    return None


def run_sweep(cells: list[Cell], store: Store, executor: Executor, *, retry_failed: bool = False,
              console: Console | None = None, live: bool | None = None) -> SweepSummary:
    """Run what ``cells`` still need into ``store`` (see the module docstring)."""
    states = cell_states(cells, store)
    tally = counts(states)
    pending = to_run(states, retry_failed)
    summary = SweepSummary(len(cells), tally["done"], 0 if retry_failed else tally["failed"])
    deps = DependencyPlan(pending, store)
    in_flight: dict[int, Cell] = {}
    home = str(store.path.resolve())
    view = SweepView(pending, tally["done"], executor.slots, console or Console(stderr=True, quiet=True), live)
    try:
        with view:
            while pending or in_flight:
                while executor.running() < executor.slots:
                    cell = _next_ready(pending, deps)
                    if cell is None:
                        break
                    pending.remove(cell)
                    executor.submit(CellTask(cell.index, cell.run, cell.config_hash, deps.claim(cell),
                                             env=forwarded_env(), tracking_store=home))
                    in_flight[cell.index] = cell
                    view.started(cell)
                for event in executor.poll(POLL_S):
                    if not isinstance(event, Finished):
                        view.progress(event.index, event.fraction, event.phase)
                        continue
                    cell = in_flight.pop(event.index)
                    record = record_result(store, cell, event.result)
                    deps.finished(cell, event.result.artifacts)
                    summary.records.append(record)
                    view.finished(cell, record)
                view.refresh()
    finally:
        executor.close()
    return summary
