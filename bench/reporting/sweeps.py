"""Protocol-sweep tables (the CSL paper's COCO FPC / RPA results): one row per method, one column
per value of the protocol parameter (N_s for ``fpc``, p for ``rpa``), cells mAP(C) mean ± std.

Tables of the same dataset (dataset part of the selector), protocol and setting that differ only in
that parameter are merged; a sweep needs at least two values. Rows match across values by method
selector and row keys (``bench.reporting.grouping``); each column is ranked and marked on its own;
rows selected on the test set are shown, flagged, never ranked.
"""
from __future__ import annotations

import json
from typing import Any

from bench.plugins.selectors import parse_dataset_selector
from bench.reporting import cells, headings
from bench.reporting.grouping import SettingGroup
from bench.reporting.layouts import SWEEP_METRIC, SWEEP_PARAMETERS
from bench.reporting.marking import ColumnMarker
from bench.reporting.model import OURS, TEST_SELECTED, Column, Row, Table
from bench.reporting.schema import Metric
from bench.reporting.tables import protocol_of, setting_text, slug


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def sweep_tables(groups: list[SettingGroup], schema: dict[str, Metric], marker: ColumnMarker) -> list[Table]:
    """The protocol-sweep tables of ``groups`` (see the module docstring), in a stable order."""
    buckets: dict[tuple[str, str, str], dict[float, list[SettingGroup]]] = {}
    for group in groups:
        _, protocol, params = protocol_of(group)
        if protocol not in SWEEP_PARAMETERS:
            continue
        value = _number(params.get(SWEEP_PARAMETERS[protocol][0]))
        if value is None:
            continue
        base = str(parse_dataset_selector(group.dataset).dataset)
        key = (base, protocol, json.dumps(group.setting, sort_keys=True, default=str))
        buckets.setdefault(key, {}).setdefault(value, []).append(group)
    tables = []
    for (base, protocol, _), by_value in sorted(buckets.items()):
        if len(by_value) >= 2:
            tables.append(_table(base, protocol, dict(sorted(by_value.items())), schema[SWEEP_METRIC], marker))
    return tables


def _table(base: str, protocol: str, by_value: dict[float, list[SettingGroup]], metric: Metric,
           marker: ColumnMarker) -> Table:
    param, label = SWEEP_PARAMETERS[protocol]
    columns = [Column(f"{param}={v:g}", f"{label}={v:g}", metric, value=v) for v in by_value]
    runs: dict[tuple[str, str], dict[float, list]] = {}
    flagged: set[tuple[str, str]] = set()
    for value, groups in by_value.items():
        for group in groups:
            for row in group.rows:
                key = (row.label, json.dumps(row.identity, sort_keys=True, default=str))
                runs.setdefault(key, {}).setdefault(value, []).extend(row.records)
                if row.test_selected:
                    flagged.add(key)
    rows = []
    for key in sorted(runs):
        row_cells = [cells.cell_for(metric, runs[key].get(v, [])) for v in by_value]
        records = [r for v in by_value for r in runs[key].get(v, [])]
        ids = [r.id for r in records]
        rows.append((Row(key[0], OURS, row_cells, runs=ids, flags=[TEST_SELECTED] if key in flagged else [],
                         run_notes=cells.run_notes_of(records)),
                     [runs[key].get(v, []) for v in by_value]))
    ranked = [(row, per_value) for row, per_value in rows if TEST_SELECTED not in row.flags]
    tests = [marker.mark([(row.cells[i], per_value[i]) for row, per_value in ranked]) for i in range(len(columns))]
    for column, test in zip(columns, tests):
        column.test = test.test if test else None
    first = next(iter(by_value.values()))[0]
    caption = [f"{metric.name} vs {label} (CSL Figure 6 / COCO {protocol.upper()} tables)"]
    table_rows = [row for row, _ in rows]
    recipe = headings.recipe_short(first.setting)
    title = headings.SEP.join(p for p in (headings.dataset_part(first.dataset), protocol, f"{metric.name} vs {label}",
                                          recipe) if p)
    return Table(f"sweep-{slug(base)}-{protocol}", title, columns, table_rows, caption,
                 cells.footnotes(columns, tests, table_rows, marker.alpha), role="sweep",
                 recipe_text=setting_text(first.setting), setting=headings.setting_lines(first.setting),
                 recipe_short=recipe)
