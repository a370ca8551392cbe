"""``bench show``: one run record, as rich tables or as JSON, with the method's diagnostics
(``extra["diagnostics"][name]["summary"]``), the notes a reader must see (``extra["notes"]``) and the
``bench run`` command that reproduces the run."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.runs.reproduce import reproduce_command

if TYPE_CHECKING:
    from bench.store import RunRecord


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()) or "—"
    return "—" if value is None else str(value)


def record_table(record: RunRecord) -> Table:
    """The record's identity, status, selection, metrics, timings, cost and environment."""
    table = Table(title=f"run {escape(record.id)}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    metrics = record.metrics or {}
    rows = [
        ("status", record.status), ("method", record.method), ("dataset", record.dataset),
        ("config hash", record.config_hash), ("manifest sha256", record.manifest_sha256),
        ("seed / split seed", f"{record.seed} / {record.split_seed}"),
        ("recipe", record.config.get("recipe")), ("evaluator", record.evaluator), ("selection", record.selection),
        ("mAP(C)", metrics.get("map_c")), ("mAP(O)", metrics.get("map_o")), ("micro AP", metrics.get("micro_ap")),
        ("excluded classes", metrics.get("excluded")), ("timings (s)", record.timings), ("cost", record.cost),
        ("created / finished", f"{record.created_at} / {record.finished_at or '—'}"),
        ("host / pid", f"{record.host} / {record.pid}"), ("environment", record.env), ("error", record.error),
    ]
    for name, value in rows:
        table.add_row(name, escape(_fmt(value)))
    return table


def summary_lines(record: RunRecord) -> list[str]:
    """Each diagnostic's summary (prefixed with its name unless it starts with it), ``note: ...`` for
    each note of ``record.extra``, and where the run's trackers (``--log``) wrote."""
    extra = record.extra or {}
    summaries = {name: str(item["summary"]) for name, item in (extra.get("diagnostics") or {}).items()
                 if isinstance(item, dict) and item.get("summary")}
    lines = [text if text.startswith(f"{name}:") else f"{name}: {text}" for name, text in summaries.items()]
    lines += [f"note: {note}" for note in extra.get("notes") or []]
    trackers = extra.get("trackers") or {}
    if trackers:
        where = {name: ", ".join(f"{k} {v}" for k, v in info.items()) for name, info in trackers.items()}
        lines.append("trackers: " + "; ".join(f"{name} ({text})" for name, text in where.items()))
    return lines


def per_class_table(record: RunRecord) -> Table | None:
    """Per-class AP (0-1; excluded classes shown as —), or None when the run has none."""
    if not record.per_class_ap or not record.class_names:
        return None
    table = Table(title="per-class AP")
    table.add_column("class")
    table.add_column("AP", justify="right")
    for name, ap in zip(record.class_names, record.per_class_ap):
        table.add_row(escape(name), "—" if ap is None else f"{ap:.4f}")
    return table


def print_record(console: Console, record: RunRecord, as_json: bool = False) -> None:
    """Print ``record`` to ``console``: tables, or ``to_dict()`` as indented JSON."""
    if as_json:
        console.print_json(json.dumps(record.to_dict(), default=str))
        return
    console.print(record_table(record))
    for line in summary_lines(record):
        console.print(line, markup=False, highlight=False)
    console.print(f"reproduce: {reproduce_command(record)}", markup=False, highlight=False)
    per_class = per_class_table(record)
    if per_class is not None:
        console.print(per_class)
