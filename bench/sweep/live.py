"""The live view of a running sweep (rich): counts per state, running cells with progress, ETA.

On a terminal a ``rich.live.Live`` table is redrawn on every event; elsewhere (CI, a pipe) one
line is printed per finished cell. The ETA (``estimate_eta``) assumes the cells still to run take
as long as the finished ones did on average, and spreads the remaining work over the slots.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from statistics import fmean
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from bench.store import RunRecord
from bench.sweep.grid import Cell

MIN_FRACTION_FOR_RATE = 0.05
SHOWN_FAILURES = 5


def estimate_eta(pending: int, running: list[tuple[float, float]], durations: list[float], slots: int) -> float | None:
    """Seconds until the sweep ends, or None before anything can be estimated.

    ``running``: (elapsed seconds, fraction done) of each running cell; ``durations``: seconds of
    the finished cells. A running cell's total is elapsed / fraction once the fraction is at least
    5 %, else the typical duration (mean of ``durations``, or of the running cells' totals).
    ETA = (sum of the running cells' remaining seconds + pending x typical) / slots.
    """
    totals = [elapsed / fraction for elapsed, fraction in running if fraction >= MIN_FRACTION_FOR_RATE]
    typical = fmean(durations) if durations else (fmean(totals) if totals else None)
    if typical is None:
        return None
    remaining = 0.0
    for elapsed, fraction in running:
        total = elapsed / fraction if fraction >= MIN_FRACTION_FOR_RATE else max(typical, elapsed)
        remaining += max(0.0, total - elapsed)
    return (remaining + pending * typical) / max(1, slots)


def format_seconds(seconds: float | None) -> str:
    """"1h02m", "3m05s", "42s", or "?"."""
    if seconds is None:
        return "?"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else (f"{minutes}m{secs:02d}s" if minutes else f"{secs}s")


@dataclass
class _Running:
    cell: Cell
    started: float
    fraction: float = 0.0
    phase: str = "starting"


class SweepView:
    """Tracks a sweep's cells and shows them (see the module docstring); a context manager."""

    def __init__(self, cells: list[Cell], skipped: int, slots: int, console: Console, live: bool | None = None):
        self.total = len(cells)
        self.skipped = skipped
        self.slots = slots
        self.console = console
        self.counts = {"done": 0, "failed": 0}
        self.running: dict[int, _Running] = {}
        self.durations: list[float] = []
        self.failures: list[tuple[Cell, str]] = []
        self.started_at = time.monotonic()
        enabled = console.is_terminal if live is None else live
        self._live = Live(console=console, auto_refresh=False, transient=False) if enabled else None

    def __enter__(self) -> SweepView:
        if self._live is not None:
            self._live.start()
            self.refresh()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._live is not None:
            self.refresh()
            self._live.stop()

    @property
    def pending(self) -> int:
        return self.total - self.counts["done"] - self.counts["failed"] - len(self.running)

    def started(self, cell: Cell) -> None:
        self.running[cell.index] = _Running(cell, time.monotonic())
        self.refresh()

    def progress(self, index: int, fraction: float, phase: str) -> None:
        if index in self.running:
            self.running[index].fraction, self.running[index].phase = fraction, phase
            self.refresh()

    def finished(self, cell: Cell, record: RunRecord) -> None:
        entry = self.running.pop(cell.index, None)
        seconds = time.monotonic() - entry.started if entry else 0.0
        self.durations.append(seconds)
        self.counts["done" if record.status == "done" else "failed"] += 1
        if record.status == "done":
            note = f"mAP(C) {record.metrics['map_c']:.2f}"
        else:
            note = record.error or "failed"
            self.failures.append((cell, note))
        if self._live is None:
            finished = self.counts["done"] + self.counts["failed"]
            self.console.print(f"[{finished}/{self.total}] {record.status}: {cell.label}: {note} "
                               f"({seconds:.1f} s, run {record.id[:12]})", markup=False, highlight=False)
        self.refresh()

    def eta(self) -> float | None:
        now = time.monotonic()
        running = [(now - r.started, r.fraction) for r in self.running.values()]
        return estimate_eta(self.pending, running, self.durations, self.slots)

    def render(self) -> RenderableType:
        now = time.monotonic()
        summary = Text(f"{self.counts['done']} done, {self.counts['failed']} failed, {len(self.running)} running, "
                       f"{self.pending} pending ({self.skipped} already done, skipped) | elapsed "
                       f"{format_seconds(now - self.started_at)} | ETA {format_seconds(self.eta())}")
        table = Table(expand=False)
        for column in ("#", "cell", "phase", "progress", "elapsed"):
            table.add_column(column)
        for entry in sorted(self.running.values(), key=lambda r: r.cell.index):
            table.add_row(str(entry.cell.index), Text(entry.cell.label), Text(entry.phase),
                          ProgressBar(total=1.0, completed=entry.fraction, width=24),
                          format_seconds(now - entry.started))
        parts: list[RenderableType] = [summary, table]
        parts.extend(Text(f"failed #{c.index} {c.label}: {reason}", style="red")
                     for c, reason in self.failures[-SHOWN_FAILURES:])
        return Group(*parts)

    def refresh(self) -> None:
        if self._live is not None:
            self._live.update(self.render(), refresh=True)
