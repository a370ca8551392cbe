"""Main leaderboards: one per dataset family, methods as rows, settings as columns, as in the CSL,
Large Loss Matters and Cole et al. papers.

A family's board gathers its per-setting detail tables (``bench.reporting.tables``; a family is the
dataset plugin name before its first ``-``, so ``coco`` and ``coco-mini`` share one). Each detail
table holding the primary metric (mAP(C)) is one column, headed by what tells it apart from the
family's other tables: the protocol (``rpa[p=0.5]``, ``fpc[n_s=1000]``, ``single-positive``), with
the dataset when the family has several and the short recipe when its tables differ in recipe.
Columns are ordered by dataset, protocol and then protocol parameters as numbers.

Each cell is the detail table's own cell (mean ± std (n)), with its marks: bold is the best among that
table's ranked rows, so a row selected on the test set is never bold. Rows of ours (and tuned rows)
are matched across columns by label; published rows follow in their own block, matched by label and
paper table, each with its source.
"""
from __future__ import annotations

import re
from dataclasses import replace

from bench.reporting.cells import TIED_MARK, UNTESTED_MARK
from bench.reporting.headings import numbered
from bench.reporting.model import OURS, REFERENCE, TUNED, Cell, Column, Row, Table
from bench.reporting.summary import PRIMARY


def _natural(text: str) -> list:
    """Sort key reading the numbers in ``text`` as numbers (``n_s=50`` before ``n_s=100``)."""
    parts = re.split(r"(\d+(?:\.\d+)?)", text)
    return [(0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(parts)]


def _headers(tables: list[Table]) -> list[str]:
    several_datasets = len({t.dataset for t in tables}) > 1
    several_recipes = len({t.recipe_short for t in tables}) > 1
    headers = []
    for table in tables:
        parts = ([table.dataset] if several_datasets else []) + [table.protocol]
        if several_recipes and table.recipe_short:
            parts.append(table.recipe_short)
        headers.append(" · ".join(parts))
    return numbered(headers)


def _primary(table: Table) -> int | None:
    return next((i for i, c in enumerate(table.columns) if c.metric.key == PRIMARY), None)


def main_boards(tables: list[Table]) -> list[Table]:
    """One main leaderboard per dataset family of the leaderboard ``tables`` (see the module docstring)."""
    families: dict[str, list[Table]] = {}
    for table in tables:
        if table.role == "leaderboard" and _primary(table) is not None:
            families.setdefault(table.family, []).append(table)
    return [_board(family, sorted(items, key=lambda t: (t.dataset, _natural(t.protocol), t.recipe_short)))
            for family, items in sorted(families.items())]


def _board(family: str, tables: list[Table]) -> Table:
    metric = tables[0].columns[_primary(tables[0])].metric
    columns = [Column(table.slug, header, metric) for table, header in zip(tables, _headers(tables))]
    rows: dict[tuple[str, str], Row] = {}
    for position, table in enumerate(tables):
        index = _primary(table)
        for source in table.rows:
            key = ("2" if source.origin == REFERENCE else "1", source.label)
            row = rows.get(key)
            if row is None:
                row = rows[key] = Row(source.label, source.origin, [None] * len(tables), note=source.note,
                                      reference=source.reference)
            cell = source.cells[index]
            row.cells[position] = replace(cell) if isinstance(cell, Cell) else None
            row.runs += [r for r in source.runs if r not in row.runs]
            row.flags += [f for f in source.flags if f not in row.flags]
            row.run_notes += [n for n in source.run_notes if n not in row.run_notes]
            if source.origin == TUNED:
                row.note = ""  # the tuning note is per table: read it below, beside the detail table
    ours = sorted((r for (block, _), r in rows.items() if block == "1"), key=lambda r: (r.origin != OURS, r.label))
    published = [r for (block, _), r in rows.items() if block == "2"]
    caption = [f"{metric.name} of every setting of the {family} datasets: methods as rows, settings as columns; each "
               "column is a detail table below (its heading links to it)."]
    shown = [c for r in ours for c in r.cells if c is not None]
    marks = [m for m, used in ((TIED_MARK, any(c.tied for c in shown)), (UNTESTED_MARK, any(c.untested for c in shown)))
             if used]
    footnotes = [f"Cells: {metric.name} mean ± std (ddof=1) over the n runs of a row, one per (seed, split_seed) "
                 f"pair; bold{''.join(', ' + m for m in marks)} as in the column's detail table (bold: the best of the "
                 "column among our ranked rows; a row selected on the test set is never ranked)."]
    if published:
        footnotes.append("Published results (reports/references.yaml) in their own block below ours, each with its "
                         "source; never ranked.")
    footnotes += [f"[{i}] {note}" for i, note in enumerate(dict.fromkeys(n for r in ours for n in r.run_notes), 1)]
    return Table(f"board-{family}", f"{family}: main leaderboard", columns, ours + published, caption, footnotes,
                 role="board", family=family)
