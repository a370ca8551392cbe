"""Markdown output (``reports/report.md.j2``): GitHub-flavoured tables, figures as PNG beside the file.

Main leaderboards come first (ours, then the published rows as a second table with their source),
then the detail tables; a detail table's full setting is its last footnote.
A row whose runs carry notes (``extra["notes"]``) is followed by their numbers, ``[1]``, and the
table's footnotes list each note once as ``[1] text``. Text from runs (method and dataset selectors,
notes) is escaped for Markdown tables: ``|`` cannot
break a row and ``<``, ``>``, ``&`` become entities, so a method named ``<script>`` reads as text.
"""
from __future__ import annotations

from pathlib import Path

import jinja2

from bench.reporting.cells import TIED_MARK, UNTESTED_MARK
from bench.reporting.datafiles import template_cache
from bench.reporting.model import (
    CLEAN_VAL,
    CLEAN_VAL_MARK,
    REFERENCE,
    TEST_SELECTED,
    TEST_SELECTED_MARK,
    Cell,
    Report,
    Row,
    Table,
)
from bench.reporting.schema import REPORTS_DIR

TEMPLATE = "report.md.j2"
FIGURE_DIR = "figures"


def md(text: object) -> str:
    """``text`` safe inside a Markdown table cell."""
    out = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return out.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def md_cell(cell: Cell | None) -> str:
    """A cell: bold when best, followed by the tied mark when indistinguishable from the best or the
    untested mark when not compared with it."""
    if cell is None:
        return "–"
    text = md(cell.text())
    if cell.best:
        return f"**{text}**"
    if cell.tied:
        return f"{text} {TIED_MARK}"
    return f"{text} {UNTESTED_MARK}" if cell.untested else text


def note_marks(table: Table, row: Row) -> str:
    """`` [1][3]``: the numbers of the table's run notes that ``row``'s runs carry (empty if none)."""
    numbers = table.note_numbers(row)
    return " " + "".join(f"[{n}]" for n in numbers) if numbers else ""


def md_label(row: Row) -> str:
    """A row label: italic for published rows, with the test-selection and clean-validation flags."""
    label = md(row.label)
    if row.origin == REFERENCE:
        label = f"*{label}*"
    flags = ((TEST_SELECTED, TEST_SELECTED_MARK), (CLEAN_VAL, CLEAN_VAL_MARK))
    marks = [mark for flag, mark in flags if flag in row.flags]
    return " ".join([label, *marks])


def environment(template_dir: Path = REPORTS_DIR) -> jinja2.Environment:
    """The Markdown Jinja2 environment (no HTML autoescape: ``md`` escapes instead)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir)), autoescape=False,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined, bytecode_cache=template_cache())
    env.filters.update(md=md, md_cell=md_cell, md_label=md_label, note_marks=note_marks)
    return env


def render_markdown(report: Report, figure_dir: str | None = FIGURE_DIR) -> str:
    """The report as Markdown; figures are linked as ``figure_dir/<slug>.png`` (omitted when None)."""
    return environment().get_template(TEMPLATE).render(report=report, figure_dir=figure_dir)


def write_markdown(report: Report, out: Path) -> Path:
    """Write the report to ``out`` when it names a ``.md`` file, else to ``out/leaderboard.md``, with
    its figures in ``figures/<slug>.png`` beside it; return the Markdown file."""
    path = out if out.suffix == ".md" else out / "leaderboard.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    if report.figures:
        (path.parent / FIGURE_DIR).mkdir(exist_ok=True)
        for figure in report.figures:
            (path.parent / FIGURE_DIR / f"{figure.slug}.png").write_bytes(figure.png)
    path.write_text(render_markdown(report), encoding="utf-8")
    return path
