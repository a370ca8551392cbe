"""Markdown output (``reports/report.md.j2``): GitHub-flavoured tables, figures as PNG beside the file.

Text from runs (method and dataset selectors, notes) is escaped for Markdown tables: ``|`` cannot
break a row and ``<``, ``>``, ``&`` become entities, so a method named ``<script>`` reads as text.
"""
from __future__ import annotations

from pathlib import Path

import jinja2

from bench.reporting.cells import TIED_MARK
from bench.reporting.model import REFERENCE, TEST_SELECTED, TEST_SELECTED_MARK, Cell, Report, Row
from bench.reporting.schema import REPORTS_DIR

TEMPLATE = "report.md.j2"
FIGURE_DIR = "figures"


def md(text: object) -> str:
    """``text`` safe inside a Markdown table cell."""
    out = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return out.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def md_cell(cell: Cell | None) -> str:
    """A cell: bold when best, followed by the tied mark when indistinguishable from the best."""
    if cell is None:
        return "–"
    text = md(cell.text())
    if cell.best:
        return f"**{text}**"
    return f"{text} {TIED_MARK}" if cell.tied else text


def md_label(row: Row) -> str:
    """A row label: italic for published rows, with the test-selection flag."""
    label = md(row.label)
    if row.origin == REFERENCE:
        label = f"*{label}*"
    return label + (f" {TEST_SELECTED_MARK}" if TEST_SELECTED in row.flags else "")


def environment(template_dir: Path = REPORTS_DIR) -> jinja2.Environment:
    """The Markdown Jinja2 environment (no HTML autoescape: ``md`` escapes instead)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir)), autoescape=False,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update(md=md, md_cell=md_cell, md_label=md_label)
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
