"""Cells (mean ± std over seeds, n) and the footnotes that say how a table's marks were decided."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.reporting.grouping import seed_key
from bench.reporting.marking import ColumnTest
from bench.reporting.model import REFERENCE, TEST_SELECTED, TEST_SELECTED_MARK, Cell, Column, Row
from bench.reporting.significance import ALPHA, BOOTSTRAP, SEED_TTEST

TIED_MARK = "≈"


def cell_for(metric: Any, records: Sequence[Any]) -> Cell | None:
    """The metric over a row's runs: mean, sample std (ddof=1; None for one run), values per seed.
    None when no run holds the metric."""
    values = {seed_key(r): v for r in records if (v := metric.value(r)) is not None}
    if not values:
        return None
    array = np.array([values[k] for k in sorted(values)], dtype=np.float64)
    std = float(array.std(ddof=1)) if array.size > 1 else None
    return Cell(metric, values=dict(sorted(values.items())), mean=float(array.mean()), std=std)


def _names(columns: list[Column]) -> str:
    return ", ".join(c.header for c in columns)


def footnotes(columns: list[Column], tests: list[ColumnTest | None], rows: list[Row],
              alpha: float = ALPHA) -> list[str]:
    """The legend of a table: cell format, bold, the test behind each column's marks, published rows."""
    notes = ["Cells: mean ± std (ddof=1) over n runs (training seeds); in bold: the best of the column among our rows."]
    by_test: dict[str, list[tuple[Column, ColumnTest]]] = {}
    for column, test in zip(columns, tests):
        if test is not None:
            by_test.setdefault(test.test, []).append((column, test))
    for test, items in sorted(by_test.items()):
        cols = [c for c, _ in items]
        reasons = sorted({t.reason for _, t in items if t.reason})
        why = f" Per-image test scores not used: {'; '.join(reasons)}." if reasons else ""
        if test == BOOTSTRAP:
            notes.append(f"{TIED_MARK} ({_names(cols)}): not significantly different from the best "
                         f"(two-sided p ≥ {alpha}), paired bootstrap over the {items[0][1].n_images} test images "
                         f"({items[0][1].n_boot} resamples, the same for every run; statistic: the seed-mean metric).")
        elif test == SEED_TTEST:
            notes.append(f"{TIED_MARK} ({_names(cols)}): not significantly different from the best "
                         f"(two-sided p ≥ {alpha}), paired t-test across seeds (scipy.stats.ttest_rel on the "
                         f"runs both rows share by (seed, split_seed)).{why}")
        else:
            notes.append(f"{_names(cols)}: no significance test (no two common seeds).{why}")
    if any(TEST_SELECTED in row.flags for row in rows):
        notes.append(f"{TEST_SELECTED_MARK} model selected on the test set "
                     "(not comparable to validation-selected rows).")
    if any(row.origin == REFERENCE for row in rows):
        notes.append("Rows in italics are published results (reports/references.yaml): never ranked, since their "
                     "backbone, input size, pretraining or recipe differ from ours unless their setting says "
                     "otherwise; Δ = ours − published, beside the row of ours running the same method.")
    return notes

