"""Cells (mean ± std over seeds, n) and the footnotes that say how a table's marks were decided."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from bench.reporting.grouping import seed_key
from bench.reporting.marking import ColumnTest
from bench.reporting.model import (
    CLEAN_VAL,
    CLEAN_VAL_MARK,
    REFERENCE,
    TEST_SELECTED,
    TEST_SELECTED_MARK,
    Cell,
    Column,
    Row,
)
from bench.reporting.significance import ALPHA, BOOTSTRAP, MIN_PAIRS, SEED_TTEST

TIED_MARK = "≈"
UNTESTED_MARK = "†"


def cell_for(metric: Any, records: Sequence[Any]) -> Cell | None:
    """The metric over a row's runs: mean, sample std (ddof=1; None for one run), values per seed.
    None when no run holds the metric."""
    values = {seed_key(r): v for r in records if (v := metric.value(r)) is not None}
    if not values:
        return None
    array = np.array([values[k] for k in sorted(values)], dtype=np.float64)
    std = float(array.std(ddof=1)) if array.size > 1 else None
    return Cell(metric, values=dict(sorted(values.items())), mean=float(array.mean()), std=std)


def run_notes_of(records: Sequence[Any]) -> list[str]:
    """The notes the runs carry (``extra["notes"]``: one-line strings), each once, in run order."""
    notes: dict[str, None] = {}
    for record in records:
        found = (record.extra or {}).get("notes") or []
        for note in [found] if isinstance(found, str) else found:
            text = " ".join(str(note).split())
            if text:
                notes[text] = None
    return list(notes)


def summary_text(name: str, summary: Any) -> str:
    """A diagnostic's summary on one line without its own ``name:`` prefix (producers may start
    their summary with their name; readers add it once)."""
    text = " ".join(str(summary).split())
    return text[len(name) + 1:].lstrip() if text.startswith(f"{name}:") else text


def diagnostics_of(records: Sequence[Any]) -> list[str]:
    """``name: summary`` of each diagnostic the runs carry (``extra["diagnostics"][name]["summary"]``),
    each distinct line once, in run order."""
    lines: dict[str, None] = {}
    for record in records:
        found = (record.extra or {}).get("diagnostics") or {}
        for name, value in sorted(found.items()) if isinstance(found, dict) else ():
            if isinstance(value, dict) and value.get("summary"):
                lines[f"{name}: {summary_text(name, value['summary'])}"] = None
    return list(lines)


def varied_text(pairs: Iterable[tuple[int, int]]) -> str:
    """Which of the (seed, split_seed) pairs' seeds varied: training seeds, split seeds, both or neither."""
    pairs = list(pairs)
    seeds, splits = len({s for s, _ in pairs}) > 1, len({s for _, s in pairs}) > 1
    if seeds and splits:
        return "both the training seed and the split seed varied"
    if seeds:
        return f"training seeds varied, split seed fixed at {pairs[0][1]}"
    if splits:
        return f"split seeds varied, training seed fixed at {pairs[0][0]}"
    return "a single (seed, split_seed) pair"


def _row_pairs(rows: list[Row]) -> list[list[tuple[int, int]]]:
    ours = [row for row in rows if row.origin != REFERENCE]
    return [sorted({k for c in row.cells if c is not None for k in c.values}) for row in ours]


def _names(columns: list[Column]) -> str:
    return ", ".join(c.header for c in columns)


def _count_text(counts: set[int]) -> str:
    low, high = min(counts), max(counts)
    return f"n = {low}" if low == high else f"n = {low}-{high}"


def footnotes(columns: list[Column], tests: list[ColumnTest | None], rows: list[Row],
              alpha: float = ALPHA) -> list[str]:
    """The legend of a table: cell format and which seeds varied, bold, the test behind each column's
    marks, untested cells, flagged rows, published rows and the notes of the runs."""
    per_row = [pairs for pairs in _row_pairs(rows) if len(pairs) > 1]
    varied = varied_text([p for pairs in per_row for p in pairs]) if per_row else "one run per row"
    notes = [f"Cells: mean ± std (ddof=1) over the n runs of a row, one per (seed, split_seed) pair ({varied}); "
             "in bold: the best of the column among our ranked rows."]
    cost = [c for c in columns if c.metric.group == "cost"]
    if cost:
        notes.append(f"Cost ({_names(cost)}): mean ± std over the same runs, never bold and never tested: what a run "
                     "costs depends on the machine, not only on the method.")
    by_test: dict[str, list[tuple[Column, ColumnTest]]] = {}
    for column, test in zip(columns, tests):
        if test is not None:
            by_test.setdefault(test.test, []).append((column, test))
    for test, items in sorted(by_test.items()):
        cols = [c for c, _ in items]
        reasons = sorted({t.reason for _, t in items if t.reason})
        why = f" Per-image test scores not used: {'; '.join(reasons)}." if reasons else ""
        pairs = {p for _, t in items for p in t.pairs}
        if test == BOOTSTRAP:
            first = items[0][1]
            fewer = "" if first.n_boot >= first.n_boot_asked else (
                f", fewer than the {first.n_boot_asked} asked: at {first.n_entries:,} annotated test entries the "
                "resamples are capped by cost; enough for the standard error the test uses")
            notes.append(f"{TIED_MARK} ({_names(cols)}): not significantly different from the best (two-sided "
                         f"p ≥ {alpha}): hierarchical bootstrap of the mean paired difference over the (seed, "
                         f"split_seed) pairs both rows ran ({varied_text(pairs)}), resampling pairs, then the "
                         f"{first.n_images} test images ({first.n_boot} resamples{fewer}, the same images for every "
                         "run); "
                         "mean / standard error referred to Student's t (Welch-Satterthwaite degrees of freedom, n − 1 "
                         "when the seed variance dominates).")
        elif test == SEED_TTEST:
            notes.append(f"{TIED_MARK} ({_names(cols)}): not significantly different from the best "
                         f"(two-sided p ≥ {alpha}), paired t-test across the (seed, split_seed) pairs both rows ran "
                         f"({varied_text(pairs)}; scipy.stats.ttest_rel).{why}")
        elif reasons:
            notes.append(f"{_names(cols)}: no significance test.{why}")
    short = [c for c, t in zip(columns, tests) if t is not None and t.short]
    if short:
        notes.append(f"{UNTESTED_MARK} not tested against the best, no claim either way ({_names(short)}: the row "
                     f"shares fewer than {MIN_PAIRS} (seed, split_seed) pairs with the best row; no significance "
                     f"mark is given below n = {MIN_PAIRS} pairs).")
    if any(TEST_SELECTED in row.flags for row in rows):
        notes.append(f"{TEST_SELECTED_MARK} model selected on the test set: shown, never ranked (no bold, no "
                     f"{TIED_MARK}, not in the cross-dataset summary); not comparable to validation-selected rows.")
    if any(CLEAN_VAL in row.flags for row in rows):
        notes.append(f"{CLEAN_VAL_MARK} model selected on clean (fully annotated) validation labels rather than the "
                     "protocol's partial ones: an advantage a partial-label setting does not grant (split.val_labels "
                     "= clean).")
    if any(row.origin == REFERENCE for row in rows):
        notes.append("Rows in italics are published results (reports/references.yaml): never ranked, since their "
                     "backbone, input size, pretraining or recipe differ from ours unless their setting says "
                     "otherwise; Δ = ours − published, beside the row of ours running the same method.")
    run_notes = list(dict.fromkeys(note for row in rows for note in row.run_notes))
    notes += [f"[{i}] {note}" for i, note in enumerate(run_notes, start=1)]
    return notes
