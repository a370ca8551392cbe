"""Best per column in bold, and the rows statistically indistinguishable from it.

``ColumnMarker.mark`` takes the ranked cells of one column (each with the runs behind it; callers
leave out rows that are never ranked, e.g. selected on the test set), marks the best (ties: every
cell equal to the best mean) and tests every other cell against it over the (seed, split_seed) pairs
both rows ran (``bench.reporting.significance``): a cell sharing fewer than ``MIN_PAIRS`` pairs with
the best is left untested (``Cell.untested``); otherwise the hierarchical bootstrap over pairs and
test images decides when every run's test scores are stored and reproduce the recorded metric,
else the paired t-test across pairs. It returns which test decided the column and, for a fallback,
why. Replicates come from ``bench.reporting.replicates.ReplicateCache`` (cached in the store).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.reporting.bootstrap import LabelledTestSet
from bench.reporting.grouping import seed_key
from bench.reporting.model import Cell
from bench.reporting.replicates import Entry, ReplicateCache, TestSetInfo
from bench.reporting.significance import (
    ALPHA,
    BOOTSTRAP,
    MIN_PAIRS,
    SEED_TTEST,
    UNTESTED,
    hierarchical_p,
    matched_pairs,
    seed_ttest_p,
)

TestSetLoader = Callable[[Any], tuple[str, LabelledTestSet] | None]
MODES = ("auto", "bootstrap", "seeds", "off")


@dataclass(frozen=True)
class ColumnTest:
    """The test that decided a column's marks, why the bootstrap was not used (if so), the
    (seed, split_seed) pairs its comparisons used and how many cells shared fewer than
    ``MIN_PAIRS`` pairs with the best (left untested)."""

    test: str
    reason: str = ""
    n_images: int = 0
    n_boot: int = 0
    pairs: frozenset = frozenset()
    short: int = 0
    n_boot_asked: int = 0
    n_entries: int = 0


class ColumnMarker:
    """Marks columns; replicates of each run fetched once (``cache``: a ``ReplicateCache``)."""

    def __init__(self, test_sets: TestSetLoader | None, mode: str = "auto", n_boot: int = 1000,
                 seed: int = 0, alpha: float = ALPHA, cache: ReplicateCache | None = None):
        if mode not in MODES:
            raise ValueError(f"significance mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.test_sets, self.mode, self.n_boot, self.seed, self.alpha = test_sets, mode, n_boot, seed, alpha
        self.cache = cache if cache is not None else ReplicateCache(None, n_boot=n_boot, seed=seed)
        self._entries: dict[str, Entry] = {}
        self._sources: dict[str, str] = {}

    def prefetch(self, wanted: Sequence[tuple[Any, Sequence[str]]]) -> None:
        """Fetch or compute, in one batch, the replicates of every (run, statistics) the report will
        test (runs that cannot be bootstrapped are skipped here and explained by ``mark``)."""
        if self.mode not in ("auto", "bootstrap") or self.test_sets is None:
            return
        self._fetch([(record, stats) for record, stats in wanted if stats])

    def mark(self, cells: Sequence[tuple[Cell, list[Any]]], statistics: Sequence[str] = ()) -> ColumnTest | None:
        """Set ``best`` / ``tied`` / ``untested`` / ``p_value`` on the cells (ranked rows of one column).

        ``statistics``: other bootstrap statistics of the same table, fetched in the same pass over
        each run's scores (they share the per-class APs) for the other columns."""
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
        reference = best[0][0]
        testable = []
        for cell, runs in others:
            if len(matched_pairs(reference.values, cell.values)) < MIN_PAIRS:
                cell.untested = True
            else:
                testable.append((cell, runs))
        short = len(others) - len(testable)
        if not testable:
            return ColumnTest(UNTESTED, short=short)
        pairs = frozenset(p for cell, _ in testable for p in matched_pairs(reference.values, cell.values))
        decided = self._bootstrap(best[0], testable, statistics) if self.mode in ("auto", "bootstrap") else None
        if isinstance(decided, ColumnTest):
            return ColumnTest(decided.test, decided.reason, decided.n_images, decided.n_boot, pairs, short,
                              decided.n_boot_asked, decided.n_entries)
        reason = decided or "bootstrap not requested"
        if self.mode == "bootstrap":
            for cell, _ in testable:
                cell.untested = True
            return ColumnTest(UNTESTED, reason, short=short)
        for cell, _ in testable:
            cell.p_value = seed_ttest_p(reference.values, cell.values)
            cell.tied = cell.p_value >= self.alpha
        return ColumnTest(SEED_TTEST, reason, pairs=pairs, short=short)

    def _bootstrap(self, best: tuple[Cell, list], others: list[tuple[Cell, list]],
                   statistics: Sequence[str]) -> ColumnTest | str:
        """Mark ``others`` by the hierarchical bootstrap, or the one-line reason why it cannot."""
        metric = best[0].metric
        if metric.statistic is None:
            return f"{metric.name} cannot be recomputed from test scores"
        if self.test_sets is None:
            return "no test labels available"
        wanted = sorted({metric.statistic, *statistics})
        runs = {r.id: r for _, group in [best] + others for r in group}
        for record in runs.values():
            problem = self._problem(record, metric)
            if problem:
                return problem
        self._fetch([(record, wanted) for record in runs.values()])
        by_pair = {key: {seed_key(r): r for r in group} for key, (_, group) in enumerate([best] + others)}
        sign = 1.0 if metric.direction == "max" else -1.0
        for index, (cell, _) in enumerate(others, start=1):
            common = matched_pairs(best[0].values, cell.values)
            points = np.array([[best[0].values[p], cell.values[p]] for p in common])
            reps = np.array([[self._entries[by_pair[0][p].id][metric.statistic][1],
                              self._entries[by_pair[index][p].id][metric.statistic][1]] for p in common])
            cell.p_value = hierarchical_p(points, reps, sign, seed=self.seed)
            cell.tied = cell.p_value is not None and cell.p_value >= self.alpha
            cell.untested = cell.p_value is None
        info = self.cache.tests[self._source(best[1][0])]
        return ColumnTest(BOOTSTRAP, n_images=info.num_images, n_boot=self.cache.n_boot_for(self._source(best[1][0])),
                          n_boot_asked=self.cache.n_boot, n_entries=info.num_entries)

    def _source(self, record: Any) -> str:
        """The test key of a run that can be bootstrapped (its test set registered with the cache),
        or the one-line reason why it cannot (starting with "!")."""
        if record.id not in self._sources:
            self._sources[record.id] = self._find_source(record)
        return self._sources[record.id]

    def _find_source(self, record: Any) -> str:
        if (record.evaluator or "partial") != "partial":
            return f"!run {record.id[:12]} used evaluator '{record.evaluator}' (the bootstrap recomputes 'partial')"
        if record.test_scores() is None:
            return f"!test scores not stored for run {record.id[:12]}"
        describe = getattr(self.test_sets, "describe", None)
        if describe is not None:
            found = describe(record)
            if found is not None:
                self.cache.register(*found)
                return found[0]
        else:
            found = self.test_sets(record)
            if found is not None:
                self.cache.register(found[0], TestSetInfo.of(found[1]), lambda test=found[1]: test)
                return found[0]
        reason = getattr(self.test_sets, "reason", None)
        why = reason(record) if reason else None
        return f"!test labels of '{record.dataset}' not available" + (f" ({why})" if why else "")

    def _problem(self, record: Any, metric: Any) -> str | None:
        """Why the run's replicates of ``metric`` cannot be trusted, or None."""
        source = self._source(record)
        if source.startswith("!"):
            return source[1:]
        entries = self.cache.tests[source].num_entries
        if record.test_scores().size != entries:
            return (f"run {record.id[:12]}: test scores: {record.test_scores().size} values, the test labels "
                    f"hold {entries} annotated entries")
        self._fetch([(record, [metric.statistic])])
        if record.id not in self._entries:
            return f"test labels of '{record.dataset}' not available"
        point = self._entries[record.id][metric.statistic][0]
        stored = metric.value(record)
        if stored is None or not np.isclose(point, stored, rtol=1e-6, atol=1e-6):
            return f"stored test scores of run {record.id[:12]} do not reproduce its recorded {metric.name}"
        return None

    def _fetch(self, wanted: Sequence[tuple[Any, Sequence[str]]]) -> None:
        """Entries of runs whose source is usable and scores fit their test set, in one batch."""
        jobs, ids = [], []
        for record, statistics in wanted:
            have = self._entries.get(record.id, {})
            source = self._source(record)
            if set(statistics) <= set(have) or source.startswith("!"):
                continue
            if record.test_scores().size != self.cache.tests[source].num_entries:
                continue
            jobs.append((source, record.test_scores(), sorted(set(statistics) | set(have))))
            ids.append(record.id)
        for run_id, entry in zip(ids, self.cache.entries(jobs)):
            if entry is not None:
                self._entries[run_id] = entry
