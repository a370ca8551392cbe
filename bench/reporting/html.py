"""HTML output: a self-contained static site (inline CSS and JS, no network, works from file://).

``index.html`` holds every table (sortable by clicking a header, filterable by a text box), the
cross-dataset summary and the figures as inline SVG; ``runs/<run id>.html`` holds one run: its
configuration, provenance (environment, host, timestamps, hashes), selection, timings, cost and its
per-class AP table. Jinja2 autoescape is on for every page, so text from runs renders as text.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from bench.reporting.cells import TIED_MARK
from bench.reporting.model import TEST_SELECTED, TEST_SELECTED_MARK, Report
from bench.reporting.schema import REPORTS_DIR, Metric

ASSETS = ("site.css", "site.js")


def _svg(text: str) -> Markup:
    """Matplotlib's SVG without the XML prolog, to inline in HTML (drawn by us, text as paths)."""
    return Markup(text[text.index("<svg"):])


def run_file(run_id: str) -> str:
    """The file name of a run's page (run ids are hex; anything else is made file-safe)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(run_id)) + ".html"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def environment(template_dir: Path = REPORTS_DIR) -> jinja2.Environment:
    """The HTML Jinja2 environment: autoescape on for every template."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters.update(svg=_svg, pretty=_pretty, run_file=run_file)
    env.globals.update(TIED_MARK=TIED_MARK, TEST_SELECTED=TEST_SELECTED, TEST_SELECTED_MARK=TEST_SELECTED_MARK)
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
        html = page.render(run=record, metrics=[(m, v) for m, v in values if v is not None],
                           classes=per_class_rows(record), title=report.title, **assets)
        (runs_dir / run_file(record.id)).write_text(html, encoding="utf-8")
    index = out / "index.html"
    index.write_text(env.get_template("site.html.j2").render(report=report, **assets), encoding="utf-8")
    return index
