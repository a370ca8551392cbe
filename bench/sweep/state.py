"""Resume: each cell's state in the store, what a sweep runs, and the ``--dry-run`` table.

A cell is "done" when its configuration hash has a done attempt, "failed" when it has a failed
attempt and no done one (the reason is the latest failure's), else "pending" (never run, or only
running / stale attempts of
another process). A sweep runs the pending cells and, with ``retry_failed``, the failed ones; done
cells are skipped, so a sweep killed mid-way and started again finishes only the rest.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text

from bench.store import RunRecord, Store
from bench.sweep.deps import DependencyPlan
from bench.sweep.estimate import gpu_hours
from bench.sweep.grid import Cell

STATE_STYLE = {"done": "green", "failed": "red", "pending": "yellow"}


@dataclass
class CellState:
    """A cell, its state, the latest relevant run id and, for a failed cell, the reason."""

    cell: Cell
    state: str
    run_id: str | None = None
    reason: str | None = None

    def will_run(self, retry_failed: bool) -> bool:
        return self.state == "pending" or (self.state == "failed" and retry_failed)


def cell_states(cells: list[Cell], store: Store) -> list[CellState]:
    """The state of every cell from the store's attempts of its configuration hash."""
    wanted = {cell.config_hash for cell in cells}
    attempts: dict[str, list[RunRecord]] = {}
    for dataset in sorted({cell.dataset for cell in cells}):
        for record in store.runs(dataset=dataset):
            if record.config_hash in wanted:
                attempts.setdefault(record.config_hash, []).append(record)
    states = []
    for cell in cells:
        records = attempts.get(cell.config_hash, [])
        done = [r for r in records if r.status == "done"]
        failed = [r for r in records if r.status == "failed"]
        if done:
            states.append(CellState(cell, "done", done[-1].id))
        elif failed:
            states.append(CellState(cell, "failed", failed[-1].id, failed[-1].error))
        else:
            states.append(CellState(cell, "pending"))
    return states


def to_run(states: list[CellState], retry_failed: bool) -> list[Cell]:
    """The cells a sweep runs, in grid order."""
    return [s.cell for s in states if s.will_run(retry_failed)]


def counts(states: list[CellState]) -> dict[str, int]:
    """Cells per state: {"done": n, "failed": n, "pending": n}."""
    out = dict.fromkeys(STATE_STYLE, 0)
    for state in states:
        out[state.state] += 1
    return out


def _hours(value: float | None) -> str:
    return "?" if value is None else (f"{value:.1f}" if value >= 1 else f"{value:.2f}")


def dry_run_table(states: list[CellState], retry_failed: bool, deps: DependencyPlan,
                  estimate: dict[str, Any] | None = None) -> Table:
    """One row per cell: index, label, config hash, state, what the sweep would do, and with an
    ``estimate`` (``images_per_s``, ``device``) its GPU hours (``bench.sweep.estimate``)."""
    notes = deps.describe(to_run(states, retry_failed))
    tallies = counts(states)
    runs = sum(s.will_run(retry_failed) for s in states)
    title = (f"{len(states)} cells: {tallies['done']} done, {tallies['failed']} failed, "
             f"{tallies['pending']} pending; {runs} would run")
    rate = (estimate or {}).get("images_per_s")
    hours = {s.cell.index: gpu_hours(s.cell, rate) for s in states} if rate else {}
    if rate:
        known = [h for s in states if s.will_run(retry_failed) and (h := hours[s.cell.index]) is not None]
        unknown = sum(hours[s.cell.index] is None for s in states if s.will_run(retry_failed))
        if known:
            title += (f"; about {_hours(sum(known))} GPU hours to run at {rate:g} images/s"
                      f" ({estimate.get('device', 'the assumed device')})"
                      + (f", {unknown} cell(s) without an estimate" if unknown else ""))
        elif unknown:
            title += f"; no GPU-hour estimate for the {unknown} cell(s) to run (dataset size not known before loading)"
    table = Table(title=title)
    for column in ("#", "cell", "config", "state", "action", *(["GPU h"] if rate else [])):
        table.add_column(column, overflow="fold")
    for state in states:
        cell = state.cell
        if state.will_run(retry_failed):
            action = "run" + (f" ({notes[cell.index]})" if cell.index in notes else "")
        elif state.state == "failed":
            action = f"skip: failed ({state.reason}); --retry-failed runs it"
        else:
            action = f"skip: done as {state.run_id[:12]}"
        table.add_row(str(cell.index), Text(cell.label), cell.config_hash[:12],
                      Text(state.state, STATE_STYLE[state.state]), Text(action),
                      *([_hours(hours[cell.index])] if rate else []))
    return table
