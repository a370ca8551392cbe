"""Leaderboard tables: one per dataset selector and setting, in the dataset's paper layout.

Each cell is the mean over a row's runs (seeds) with its std (ddof=1) and n (``cells.cell_for``);
the best ranked cell of each column is bold and the cells not significantly different from it are
marked (``bench.reporting.marking``); rows selected on the test set are shown, flagged, never
ranked. Tuned rows replace their grid's rows (``bench.reporting.tuning``). Cost columns are shown in
the units that fit them (``bench.reporting.units``), never bold and never tested. A table's heading
names its dataset, protocol and short recipe (``bench.reporting.headings``); a row whose runs
selected their model on clean validation labels is flagged.
Published rows (``bench.reporting.references``) follow ours, never ranked, each with the delta
ours - published when a row of ours runs the same method (``bench_method``).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bench.plugins.selectors import parse_dataset_selector
from bench.reporting import cells, headings, units
from bench.reporting.grouping import RunGroup, SettingGroup
from bench.reporting.layouts import layout_columns, layout_for
from bench.reporting.marking import ColumnMarker
from bench.reporting.model import CLEAN_VAL, OURS, REFERENCE, TEST_SELECTED, TUNED, Cell, Column, Row, Table
from bench.reporting.references import PublishedRow, References
from bench.reporting.schema import Metric
from bench.reporting.tuning import TunedChoice, TuningSpec, choose

REFERENCE_MODES = ("all", "matched", "none")


@dataclass(frozen=True)
class TableOptions:
    """``cost``: add the cost columns that hold data; ``columns``: extra metric keys;
    ``references``: all | matched (only published methods we ran) | none."""

    cost: bool = False
    columns: tuple[str, ...] = ()
    references: str = "all"


def slug(text: str) -> str:
    """A file-name and anchor-safe id of ``text``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "table"


def protocol_of(group: SettingGroup) -> tuple[str, str | None, dict[str, Any]]:
    """(dataset plugin, protocol or None, typed protocol parameters) of a table's runs."""
    parsed = parse_dataset_selector(group.dataset)
    protocol = (group.rows[0].records[0].config or {}).get("protocol") or {}
    params = protocol.get("params") or (dict(parsed.protocol.params) if parsed.protocol else {})
    return parsed.dataset.name, parsed.protocol.name if parsed.protocol else None, params


def setting_text(setting: dict[str, Any]) -> str:
    """The readable part of a setting: every key except plugin identities and versions."""
    keep = {k: v for k, v in setting.items()
            if not k.endswith(("source_hash", "version")) and k.split(".")[0] not in ("dataset", "protocol")}
    return ", ".join(f"{k}={json.dumps(v) if isinstance(v, (dict, list)) else v}" for k, v in keep.items())


def clean_val_flag(records: list[Any]) -> list[str]:
    """``[CLEAN_VAL]`` when a run selected its model on clean validation labels
    (``config.split.val_labels == "clean"``), else ``[]``."""
    clean = any(((r.config or {}).get("split") or {}).get("val_labels") == "clean" for r in records)
    return [CLEAN_VAL] if clean else []


def fit_units(columns: list[Column], rows: list[Row]) -> None:
    """Show each column of a metric with a ``unit`` in the unit that fits its cells, named in its
    header (``bench.reporting.units``)."""
    for i, column in enumerate(columns):
        if column.metric.unit is None:
            continue
        found = [row.cells[i] for row in rows if row.cells[i] is not None]
        unit = units.fit(column.metric.unit, [c.mean for c in found])
        column.header = units.header(column.metric.name, column.metric.unit, unit)
        for cell in found:
            cell.unit = unit


class TableBuilder:
    """Builds the leaderboard tables of setting groups (see the module docstring)."""

    def __init__(self, schema: dict[str, Metric], references: References | None, marker: ColumnMarker,
                 tuning: list[TuningSpec] = (), options: TableOptions = TableOptions()):
        if options.references not in REFERENCE_MODES:
            raise ValueError(f"references must be one of {', '.join(REFERENCE_MODES)}, got {options.references!r}")
        self.schema, self.references, self.marker = schema, references, marker
        self.tuning, self.options = list(tuning), options

    def columns(self, dataset: str, group: SettingGroup) -> list[Column]:
        """The layout's columns, the requested extra metrics, and (with ``cost``) the cost metrics
        that at least one of the table's runs holds."""
        extra = list(self.options.columns)
        if self.options.cost:
            runs = [r for row in group.rows for r in row.records]
            extra += [k for k, m in self.schema.items()
                      if m.group == "cost" and k not in extra and any(m.value(r) is not None for r in runs)]
        return [Column(m.key, header, m)
                for m, header in layout_columns(layout_for(dataset), self.schema, tuple(extra))]

    def statistics(self, group: SettingGroup) -> list[str]:
        """The bootstrap statistics of the columns of ``group``'s table."""
        dataset = protocol_of(group)[0]
        return [c.metric.statistic for c in self.columns(dataset, group) if c.metric.statistic]

    def leaderboard(self, group: SettingGroup, slug_text: str) -> Table:
        """The ranked table of one dataset selector and setting, published rows appended."""
        dataset, protocol, params = protocol_of(group)
        columns = self.columns(dataset, group)
        rows, notes = self._our_rows(group, columns)
        statistics = self.statistics(group)
        ranked = [(row, row_runs) for row, row_runs in rows if TEST_SELECTED not in row.flags]
        tests = [None if column.metric.group == "cost" else
                 self.marker.mark([(row.cells[i], row_runs) for row, row_runs in ranked], statistics)
                 for i, column in enumerate(columns)]
        fit_units(columns, [row for row, _ in rows])
        for column, test in zip(columns, tests):
            column.test = test.test if test else None
        table_rows = [row for row, _ in rows]
        if self.references is not None and self.options.references != "none":
            table_rows += self._published_rows(self.references.rows_for(dataset, protocol, params), table_rows, columns)
        footnotes = cells.footnotes(columns, tests, table_rows, self.marker.alpha) + notes
        recipe = {k: v for k, v in group.setting.items() if k.split(".")[0] not in ("dataset", "protocol")}
        parts = (headings.recipe_short(group.setting), headings.distinct_text(group.distinct))
        short = ", ".join(p for p in parts if p)
        return Table(slug_text, headings.heading(group.dataset, group.setting, group.distinct), columns, table_rows,
                     [layout_for(dataset).title], footnotes, recipe=recipe, recipe_text=setting_text(group.setting),
                     setting=headings.setting_lines(group.setting), selector=group.dataset,
                     family=headings.family_of(dataset), dataset=headings.dataset_part(group.dataset),
                     protocol=headings.protocol_part(group.dataset), recipe_short=short)

    def _our_rows(self, group: SettingGroup, columns: list[Column]) -> tuple[list[tuple[Row, list]], list[str]]:
        hidden: set[int] = set()
        tuned: list[tuple[Row, list]] = []
        notes: list[str] = []
        choices: list[TunedChoice] = []
        for spec in self.tuning:
            choice = choose(spec, group.rows)
            if choice is not None:
                choices.append(choice)
                hidden |= {id(row) for row in choice.candidates}
                tuned.append((self._tuned_row(choice, columns), choice.chosen.records))
        if len({len(c.candidates) for c in choices}) > 1:
            notes.append("Tuning budgets differ between families: " + "; ".join(
                f"{c.spec.family} {len(c.candidates)}" for c in choices) + " configurations.")
        ours = [(self._row(run_group, columns), run_group.records) for run_group in group.rows
                if id(run_group) not in hidden]
        return ours + tuned, notes

    def _row(self, group: RunGroup, columns: list[Column]) -> Row:
        label = group.label
        # a validation-selected row keeps its plain label beside its test-selected twin (flagged ⚑),
        # so the cross-dataset summary matches it with the same method's rows of other tables
        distinct = {k: v for k, v in group.distinct.items() if k != "select_on" or group.test_selected}
        if distinct:
            label += " ⟨" + ", ".join(f"{k}={v}" for k, v in distinct.items()) + "⟩"
        flags = ([TEST_SELECTED] if group.test_selected else []) + clean_val_flag(group.records)
        return Row(label, OURS, [cells.cell_for(c.metric, group.records) for c in columns],
                   runs=[r.id for r in group.records], flags=flags, run_notes=cells.run_notes_of(group.records),
                   diagnostics=cells.diagnostics_of(group.records))

    def _tuned_row(self, choice: TunedChoice, columns: list[Column]) -> Row:
        spec = choice.spec
        fixed = f"; fixed {', '.join(f'{k}={v}' for k, v in spec.fixed.items())}" if spec.fixed else ""
        note = (f"tuned on validation mAP(C) over {spec.grid_text()}{fixed} "
                f"({len(choice.candidates)} of {spec.size} grid configurations run); chosen: {choice.chosen.label} "
                f"(validation {choice.score:.2f})")
        return Row(f"{spec.family} (tuned)", TUNED, [cells.cell_for(c.metric, choice.chosen.records) for c in columns],
                   runs=[r.id for r in choice.chosen.records], note=note, flags=clean_val_flag(choice.chosen.records),
                   run_notes=cells.run_notes_of(choice.chosen.records),
                   diagnostics=cells.diagnostics_of(choice.chosen.records))

    def _published_rows(self, published: list[PublishedRow], ours: list[Row], columns: list[Column]) -> list[Row]:
        out = []
        for item in published:
            matches = [row for row in ours if row.origin == OURS and row.label == item.bench_method]
            if self.options.references == "matched" and not matches:
                continue
            if not any(c.metric.key in item.values for c in columns):
                continue
            row_cells: list[Cell | None] = []
            for i, column in enumerate(columns):
                value = item.values.get(column.metric.key)
                if value is None:
                    row_cells.append(None)
                    continue
                ours_cell = matches[0].cells[i] if len(matches) == 1 else None
                delta = ours_cell.mean - value if ours_cell is not None and ours_cell.mean is not None else None
                row_cells.append(Cell(column.metric, mean=value, delta=delta))
            flags = [TEST_SELECTED] if item.selection == "test" else []
            note = f"{item.citation_text()}, {item.table}; {item.setting()}; model selection: {item.selection}"
            out.append(Row(f"{item.label} [{item.short_table()}]", REFERENCE, row_cells, flags=flags, note=note,
                           reference={"table": item.table, "statuses": item.statuses, "sources": item.sources,
                                      "bench_method": item.bench_method}))
        return out
