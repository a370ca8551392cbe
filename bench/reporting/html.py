"""HTML output: a self-contained static site (inline CSS and JS, no network, works from file://).

``index.html`` holds the main leaderboard of each dataset family, then every detail table (sortable
by clicking a header, filterable by a text box; the full setting in a collapsed ``<details>``), the
cross-dataset summary and the figures as inline SVG; ``runs/<run id>.html`` holds one run
(``bench.reporting.run_pages``): its notes and diagnostics summaries, the command reproducing it,
its training curves, selection, timings, cost and configuration as tables, provenance and its
per-class AP chart and table; ``settings/<table>.html`` compares per-class AP across the methods of
one setting (``bench.reporting.class_pages``). Jinja2 autoescape is on for every page, so
text from runs renders as text.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from bench.reporting.cells import TIED_MARK, UNTESTED_MARK, run_notes_of, summary_text
from bench.reporting.class_pages import PAGE_DIR, compare, page_file
from bench.reporting.datafiles import template_cache
from bench.reporting.model import CLEAN_VAL, CLEAN_VAL_MARK, REFERENCE, TEST_SELECTED, TEST_SELECTED_MARK, Report, Table
from bench.reporting.run_pages import page_context
from bench.reporting.schema import REPORTS_DIR, Metric
from bench.reporting.tables import clean_val_flag

if TYPE_CHECKING:
    import jinja2

ASSETS = ("site.css", "site.js")


def _svg(text: str) -> Markup:
    """Matplotlib's SVG without the XML prolog, to inline in HTML (drawn by us, text as paths)."""
    return Markup(text[text.index("<svg"):])


def run_file(run_id: str) -> str:
    """The file name of a run's page (run ids are hex; anything else is made file-safe)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(run_id)) + ".html"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def blocks(table: Table) -> list[dict[str, Any]]:
    """The row blocks of a table's ``<tbody>`` elements: one for every row, or, on a main leaderboard,
    ours then the published rows under their own heading (each block sorts on its own)."""
    if table.role != "board":
        return [{"name": "rows", "title": "", "rows": table.rows}]
    ours = [r for r in table.rows if r.origin != REFERENCE]
    published = [r for r in table.rows if r.origin == REFERENCE]
    return [{"name": "rows", "title": "", "rows": ours}] + (
        [{"name": "published", "title": "Published results (source in the Notes column)", "rows": published}]
        if published else [])


def environment(template_dir: Path = REPORTS_DIR) -> jinja2.Environment:
    """The HTML Jinja2 environment: autoescape on for every template."""
    import jinja2  # here: only a report written as HTML loads it

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
                             bytecode_cache=template_cache())
    env.filters.update(svg=_svg, chart=Markup, pretty=_pretty, run_file=run_file, blocks=blocks)
    env.globals.update(TIED_MARK=TIED_MARK, UNTESTED_MARK=UNTESTED_MARK, TEST_SELECTED=TEST_SELECTED,
                       TEST_SELECTED_MARK=TEST_SELECTED_MARK, CLEAN_VAL=CLEAN_VAL, CLEAN_VAL_MARK=CLEAN_VAL_MARK)
    return env


def _assets() -> dict[str, Markup]:
    """The inline stylesheet and script (our own files, inserted verbatim)."""
    return {name.replace(".", "_"): Markup((REPORTS_DIR / name).read_text(encoding="utf-8")) for name in ASSETS}


def per_class_rows(record: Any) -> list[dict[str, Any]]:
    """(index, class, AP x 100 or None) of a run, in class order."""
    names = record.class_names or []
    aps = record.per_class_ap or []
    rows = []
    for index, name in enumerate(names):
        ap = aps[index] if index < len(aps) else None
        valid = isinstance(ap, (int, float)) and not math.isnan(ap)
        rows.append({"index": index, "name": name, "ap": 100.0 * ap if valid else None})
    return rows


def diagnostics_of(record: Any) -> list[tuple[str, str]]:
    """(name, summary line) of each of a run's diagnostics (``extra["diagnostics"][name]["summary"]``)."""
    found = (record.extra or {}).get("diagnostics") or {}
    if not isinstance(found, dict):
        return []
    return [(str(name), summary_text(str(name), value["summary"])) for name, value in sorted(found.items())
            if isinstance(value, dict) and value.get("summary")]


def write_site(report: Report, out: Path, schema: dict[str, Metric]) -> Path:
    """Write ``out/index.html`` and ``out/runs/<id>.html``; return the index path."""
    env = environment()
    assets = _assets()
    out.mkdir(parents=True, exist_ok=True)
    runs_dir = out / "runs"
    runs_dir.mkdir(exist_ok=True)
    run_metrics = [m for m in schema.values() if m.group != "summary"]
    page = env.get_template("run.html.j2")
    for record in sorted(report.runs, key=lambda r: r.id):
        values = [(m, m.value(record)) for m in run_metrics]
        classes = per_class_rows(record)
        html = page.render(run=record, metrics=[(m, v) for m, v in values if v is not None and m.group != "cost"],
                           classes=classes, title=report.title, notes=run_notes_of([record]),
                           diagnostics=diagnostics_of(record), clean_val=bool(clean_val_flag([record])),
                           **page_context(record, classes), **assets)
        (runs_dir / run_file(record.id)).write_text(html, encoding="utf-8")
    _write_class_pages(report, out, env, assets)
    index = out / "index.html"
    index.write_text(env.get_template("site.html.j2").render(report=report, **assets), encoding="utf-8")
    return index


def _write_class_pages(report: Report, out: Path, env: jinja2.Environment, assets: dict[str, Markup]) -> None:
    """``out/settings/<table>.html`` for each detail table with per-class AP; links the table to it."""
    runs = {record.id: record for record in report.runs}
    page = env.get_template("classes.html.j2")
    for table in report.tables:
        comparison = compare(table, runs) if table.role == "leaderboard" else None
        if comparison is None:
            continue
        (out / PAGE_DIR).mkdir(exist_ok=True)
        table.classes = page_file(table)
        (out / table.classes).write_text(page.render(page=comparison, title=report.title, **assets), encoding="utf-8")
