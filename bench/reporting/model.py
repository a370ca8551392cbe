"""The report as data: tables of rows and cells, figures and notes, rendered by the Markdown and HTML
writers. Nothing here formats for one output only; ``Cell.text`` is the shared cell text.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.reporting.schema import Metric
from bench.reporting.units import Unit

OURS = "ours"
TUNED = "tuned"
REFERENCE = "reference"
TEST_SELECTED = "selected on test"
TEST_SELECTED_MARK = "⚑"
CLEAN_VAL = "validated on clean labels"
CLEAN_VAL_MARK = "◇"


@dataclass
class Cell:
    """One metric of one row: per-run values keyed by (seed, split_seed); mean, std (ddof=1), n.

    ``best``: the best value of its column among ranked rows; ``tied``: not significantly different
    from the best (see ``bench.reporting.significance``); ``untested``: not compared with the best
    (fewer than 3 matched (seed, split_seed) pairs, or no usable test); ``delta``: ours - published
    (reference rows only); ``p_value``: of the comparison with the best; ``unit``: the unit its
    column is shown in (cost columns, ``bench.reporting.units``).
    """

    metric: Metric
    values: dict[tuple, float] = field(default_factory=dict)
    mean: float | None = None
    std: float | None = None
    best: bool = False
    tied: bool = False
    untested: bool = False
    p_value: float | None = None
    delta: float | None = None
    unit: Unit | None = None

    @property
    def n(self) -> int:
        return len(self.values)

    def text(self) -> str:
        """``mean ± std (n)`` for our rows (``mean (n=1)`` for one run), the value alone for a
        published row, followed by ``Δ ours-published`` when a matching row of ours exists."""
        if self.mean is None:
            return "–"
        shown = self.unit.text if self.unit is not None else self.metric.text
        value = shown(self.mean)
        if self.n == 0:
            delta = "" if self.delta is None else f" (Δ {self.delta:+.2f})"
            return value + delta
        if self.n == 1:
            return f"{value} (n=1)"
        return f"{value} ± {shown(self.std)} (n={self.n})"


@dataclass
class Column:
    """A table column: a metric (with the header shown) and, for protocol sweeps, a parameter value."""

    key: str
    header: str
    metric: Metric
    test: str | None = None
    value: float | None = None


@dataclass
class Row:
    """A table row. ``origin``: where its numbers come from, ours | tuned | reference. ``runs``: the
    run ids behind it (ours). ``note``: the row's own note (tuning, citation); ``run_notes``: the
    notes its runs carry (``extra["notes"]``), each once; ``diagnostics``: their diagnostics summaries
    (``name: summary``), each distinct line once."""

    label: str
    origin: str
    cells: list[Cell | None]
    runs: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    note: str = ""
    reference: dict[str, Any] | None = None
    run_notes: list[str] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)


@dataclass
class Table:
    """A rendered table: ``slug`` (stable id), title, caption lines, columns, rows and footnotes.
    ``recipe`` (leaderboards): the setting without its dataset and protocol parts, with its text;
    ``setting``: the full setting, one ``key = value`` a line (``<details>`` in HTML, a footnote in
    Markdown); ``selector``: the dataset selector of its runs (leaderboards); ``dataset``,
    ``protocol``, ``recipe_short``: the parts of its heading (main boards group tables by
    ``family``); ``classes``: the per-class AP page of its setting (HTML)."""

    slug: str
    title: str
    columns: list[Column]
    rows: list[Row]
    caption: list[str] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)
    role: str = "leaderboard"  # leaderboard | summary | sweep
    recipe: dict[str, Any] = field(default_factory=dict)
    recipe_text: str = ""
    setting: list[str] = field(default_factory=list)
    selector: str = ""
    family: str = ""
    dataset: str = ""
    protocol: str = ""
    recipe_short: str = ""
    classes: str = ""

    def grouped_notes(self) -> list[tuple[list[Row], str]]:
        """The rows' notes in row order, rows sharing one note grouped under it."""
        groups: dict[str, list[Row]] = {}
        for row in self.rows:
            if row.note:
                groups.setdefault(row.note, []).append(row)
        return [(rows, note) for note, rows in groups.items()]

    def run_notes(self) -> list[str]:
        """The notes of the table's runs, each once, in row order (numbered from 1 by position)."""
        return list(dict.fromkeys(note for row in self.rows for note in row.run_notes))

    def note_numbers(self, row: Row) -> list[int]:
        """The 1-based numbers in ``run_notes()`` of the notes of ``row``'s runs."""
        numbers = {note: i for i, note in enumerate(self.run_notes(), start=1)}
        return [numbers[note] for note in row.run_notes]


@dataclass
class Figure:
    """A drawn figure: its file stem, title, caption, its lines' labels, and SVG text or PNG bytes
    (whichever was asked)."""

    slug: str
    title: str
    caption: str
    lines: list[str] = field(default_factory=list)
    svg: str | None = None
    png: bytes | None = None


@dataclass
class Report:
    """Everything a report shows, in display order."""

    title: str
    tables: list[Table]
    summaries: list[Table]
    figures: list[Figure]
    runs: list[Any]
    notes: list[str] = field(default_factory=list)
    generated_at: str | None = None
    boards: list[Table] = field(default_factory=list)
