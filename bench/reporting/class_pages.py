"""Per-setting pages comparing per-class AP across methods (``reports/classes.html.j2``).

One page per detail table: a row per class, a column per row of ours (methods, tuned rows), each
cell the mean over the row's runs of that class's test AP (x 100; classes a run excluded are left out
of its mean, a class no run has is "–"). The best cell of each class among the ranked rows (not
selected on the test set) is bold. The table sorts by any column (``site.js``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bench.reporting.model import REFERENCE, TEST_SELECTED, Row, Table

PAGE_DIR = "settings"


@dataclass
class ClassComparison:
    """The classes (rows) x method rows (columns) of one table's per-class APs."""

    table: Table
    methods: list[Row]
    classes: list[str]
    values: list[list[float | None]] = field(default_factory=list)  # [class][method]
    best: list[set[int]] = field(default_factory=list)  # per class: the methods holding its best value


def page_file(table: Table) -> str:
    """The path of a table's page, relative to the site's root."""
    return f"{PAGE_DIR}/{table.slug}.html"


def _mean_ap(records: list[Any]) -> dict[str, float]:
    sums: dict[str, list[float]] = {}
    for record in records:
        for name, ap in zip(record.class_names or [], record.per_class_ap or []):
            if isinstance(ap, (int, float)) and not math.isnan(ap):
                sums.setdefault(name, []).append(100.0 * ap)
    return {name: sum(v) / len(v) for name, v in sums.items()}


def compare(table: Table, runs: dict[str, Any]) -> ClassComparison | None:
    """The per-class comparison of ``table``'s rows of ours (``runs``: run id -> record); None when
    no row has per-class AP."""
    methods = [row for row in table.rows if row.origin != REFERENCE and row.runs]
    means = [_mean_ap([runs[r] for r in row.runs if r in runs]) for row in methods]
    classes: list[str] = []
    for row in methods:
        for run_id in row.runs:
            record = runs.get(run_id)
            classes += [c for c in (record.class_names or []) if c not in classes] if record is not None else []
    if not classes or not any(means):
        return None
    out = ClassComparison(table, methods, classes)
    ranked = [i for i, row in enumerate(methods) if TEST_SELECTED not in row.flags]
    for name in classes:
        values = [m.get(name) for m in means]
        out.values.append(values)
        present = [values[i] for i in ranked if values[i] is not None]
        top = max(present, default=None)
        out.best.append({i for i in ranked if top is not None and values[i] == top})
    return out
