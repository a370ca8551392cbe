"""Best per column in bold, and the rows statistically indistinguishable from it.

``ColumnMarker.mark`` takes the ranked cells of one column (each with the runs behind it), marks the
best (ties: every cell equal to the best mean) and tests every other cell against it with the paired
bootstrap over test images when every run's test scores are stored and reproduce the recorded metric,
otherwise with the paired t-test across seeds (``bench.reporting.significance``). It returns which
test decided the column and, for a fallback, why.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.reporting.bootstrap import LabelledTestSet, PairedBootstrap
from bench.reporting.model import Cell
from bench.reporting.significance import ALPHA, BOOTSTRAP, SEED_TTEST, UNTESTED, bootstrap_p, seed_ttest_p

TestSetLoader = Callable[[Any], tuple[str, LabelledTestSet] | None]
MODES = ("auto", "bootstrap", "seeds", "off")


@dataclass(frozen=True)
class ColumnTest:
    """The test that decided a column's marks, and why the bootstrap was not used (if so)."""

    test: str
    reason: str = ""
    n_images: int = 0
    n_boot: int = 0


class ColumnMarker:
    """Marks columns; caches bootstrap replicates per (run id, statistic)."""

    def __init__(self, test_sets: TestSetLoader | None, mode: str = "auto", n_boot: int = 1000,
                 seed: int = 0, alpha: float = ALPHA):
        if mode not in MODES:
            raise ValueError(f"significance mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.test_sets, self.mode, self.n_boot, self.seed, self.alpha = test_sets, mode, n_boot, seed, alpha
        self._bootstraps: dict[str, PairedBootstrap] = {}
        self._replicates: dict[tuple[str, str], np.ndarray] = {}

    def mark(self, cells: Sequence[tuple[Cell, list[Any]]], statistics: Sequence[str] = ()) -> ColumnTest | None:
        """Set ``best`` / ``tied`` / ``p_value`` on the cells (ranked rows of one column).

        ``statistics``: other bootstrap statistics of the same table, computed in the same pass over
        each run's scores (they share the per-class APs) and cached for the other columns."""
        present = [(cell, runs) for cell, runs in cells if cell is not None and cell.mean is not None]
        if not present:
            return None
        metric = present[0][0].metric
        top = max(metric.oriented(cell.mean) for cell, _ in present)
        best = [(c, r) for c, r in present if metric.oriented(c.mean) == top]
        others = [(c, r) for c, r in present if metric.oriented(c.mean) != top]
        for cell, _ in best:
            cell.best = True
        if not others or self.mode == "off":
            return None
        decided = self._bootstrap(best[0], others, statistics) if self.mode in ("auto", "bootstrap") else None
        if isinstance(decided, ColumnTest) and decided.test == BOOTSTRAP:
            return decided
        reason = decided.reason if isinstance(decided, ColumnTest) else "bootstrap not requested"
        if self.mode == "bootstrap":
            return ColumnTest(UNTESTED, reason)
        tested = False
        for cell, _ in others:
            cell.p_value = seed_ttest_p(best[0][0].values, cell.values)
            cell.tied = cell.p_value is not None and cell.p_value >= self.alpha
            tested |= cell.p_value is not None
        return ColumnTest(SEED_TTEST if tested else UNTESTED, reason)

    def _bootstrap(self, best: tuple[Cell, list], others: list[tuple[Cell, list]],
                   statistics: Sequence[str]) -> ColumnTest:
        metric = best[0].metric
        if metric.statistic is None:
            return ColumnTest(UNTESTED, f"{metric.name} cannot be recomputed from test scores")
        if self.test_sets is None:
            return ColumnTest(UNTESTED, "no test labels available")
        series = []
        for _cell, runs in [best] + others:
            reps = []
            for record in runs:
                found = self._run_replicates(record, metric, statistics)
                if isinstance(found, str):
                    return ColumnTest(UNTESTED, found)
                reps.append(found)
            series.append(np.mean(reps, axis=0))
        sign = 1.0 if metric.direction == "max" else -1.0
        for (cell, _), reps in zip(others, series[1:]):
            cell.p_value = bootstrap_p(series[0], reps, sign)
            cell.tied = cell.p_value is not None and cell.p_value >= self.alpha
        boot = self._bootstraps[self.test_sets(best[1][0])[0]]
        return ColumnTest(BOOTSTRAP, n_images=boot.num_images, n_boot=boot.n_boot)

    def _run_replicates(self, record: Any, metric: Any, statistics: Sequence[str]) -> np.ndarray | str:
        """The run's replicate statistic, or a one-line reason why it cannot be had."""
        key = (record.id, metric.statistic)
        if key in self._replicates:
            return self._replicates[key]
        if (record.evaluator or "partial") != "partial":
            return f"run {record.id[:12]} used evaluator '{record.evaluator}' (the bootstrap recomputes 'partial')"
        scores = record.test_scores()
        if scores is None:
            return f"test scores not stored for run {record.id[:12]}"
        found = self.test_sets(record)
        if found is None:
            reason = getattr(self.test_sets, "reason", None)
            why = reason(record) if reason else None
            return f"test labels of '{record.dataset}' not available" + (f" ({why})" if why else "")
        test_key, test = found
        boot = self._bootstraps.get(test_key)
        if boot is None:
            boot = self._bootstraps[test_key] = PairedBootstrap(test, n_boot=self.n_boot, seed=self.seed)
        stored = metric.value(record)
        try:
            point = boot.point(scores, [metric.statistic])[metric.statistic]
        except ValueError as exc:
            return f"run {record.id[:12]}: {exc}"
        if stored is None or not np.isclose(point, stored, rtol=1e-6, atol=1e-6):
            return f"stored test scores of run {record.id[:12]} do not reproduce its recorded {metric.name}"
        wanted = sorted({metric.statistic, *statistics} - {s for run, s in self._replicates if run == record.id})
        for statistic, values in boot.replicates(scores, wanted).items():
            self._replicates[(record.id, statistic)] = values
        return self._replicates[key]
