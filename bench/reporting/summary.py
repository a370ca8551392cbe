"""The cross-dataset summaries: mean rank and win rate of a fixed set of methods over comparable tables.

A row takes part only if it is ours (or tuned), not selected on the test set, and its primary metric
(mAP(C)) is a mean over n >= 2 runs. Tables are grouped by recipe (the table's setting without its
dataset and protocol parts: mode, evaluator, recipe, validation fraction, bench version). Within one
recipe, the ranked methods M are chosen among the tables' sets of eligible methods and their pairwise
intersections (at least two methods): the set held by the most tables, ties to the larger set, then
to the alphabetically first. Only the tables holding every method of M take part, at least
``MIN_TABLES`` of them, and only M's rows are ranked there, so every method is ranked against the
same opponents on the same tables.

In each such table a row's rank is its position by mean (1 = best, ties share the average rank,
``average_ranks``, as ``scipy.stats.rankdata``); its win rate is the share of (table, other method)
pairs it beats, a tie counting one half. Rows are matched across tables by label (the method selector; "(tuned)" rows by
family). Published rows never take part. One summary table per recipe with such a set.
"""
from __future__ import annotations

import json
from itertools import combinations

import numpy as np

from bench.reporting.model import OURS, TEST_SELECTED, TUNED, Cell, Column, Row, Table
from bench.reporting.schema import Metric

PRIMARY = "map_c"
SUMMARY_KEYS = ("summary_tables", "mean_rank", "win_rate")
MIN_RUNS = 2
MIN_TABLES = 2


def eligible_means(table: Table) -> dict[str, float]:
    """label -> mean primary metric of the rows of ``table`` that may be ranked in a summary."""
    index = next((i for i, c in enumerate(table.columns) if c.metric.key == PRIMARY), None)
    if index is None:
        return {}
    found: dict[str, list[float]] = {}
    for row in table.rows:
        cell = row.cells[index]
        if (row.origin in (OURS, TUNED) and TEST_SELECTED not in row.flags and cell is not None
                and cell.mean is not None and cell.n >= MIN_RUNS):
            found.setdefault(row.label, []).append(cell.mean)
    return {label: means[0] for label, means in found.items() if len(means) == 1}


def choose_methods(method_sets: list[frozenset]) -> frozenset | None:
    """The ranked methods of one recipe (see the module docstring), or None."""
    candidates = {s for s in method_sets if len(s) >= 2}
    candidates |= {a & b for a, b in combinations(sorted(candidates, key=sorted), 2) if len(a & b) >= 2}
    scored = [(sum(c <= s for s in method_sets), len(c), c) for c in candidates]
    scored = [item for item in scored if item[0] >= MIN_TABLES]
    if not scored:
        return None
    return min(scored, key=lambda item: (-item[0], -item[1], sorted(item[2])))[2]


def cross_dataset_summaries(tables: list[Table], schema: dict[str, Metric]) -> list[Table]:
    """One summary table per recipe whose tables hold a common method set (see the module docstring)."""
    by_recipe: dict[str, list[tuple[Table, dict[str, float]]]] = {}
    for table in tables:
        means = eligible_means(table)
        if len(means) >= 2:
            by_recipe.setdefault(json.dumps(table.recipe, sort_keys=True, default=str), []).append((table, means))
    out = []
    for _, items in sorted(by_recipe.items()):
        methods = choose_methods([frozenset(means) for _, means in items])
        if methods is not None:
            used = [(table, {m: means[m] for m in sorted(methods)}) for table, means in items if methods <= set(means)]
            out.append(_summary(used, len(tables) - len(used), schema))
    for i, table in enumerate(out[1:], start=2):
        table.slug = f"summary-{i}"
    return out


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values`` (ascending), tied values sharing the mean of their ranks: what
    ``scipy.stats.rankdata(values, method="average")`` returns (half-integers, exact), without
    importing ``scipy.stats`` (about a second, a third of a report on a small store)."""
    values = np.asarray(values)
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]] if ordered.size else np.zeros(0, dtype=bool)
    first = np.flatnonzero(starts)
    counts = np.diff(np.r_[first, ordered.size])
    ranks = np.empty(ordered.size, dtype=np.float64)
    ranks[order] = (first + (counts + 1) / 2.0)[np.cumsum(starts) - 1]
    return ranks


def _summary(used: list[tuple[Table, dict[str, float]]], left_out: int, schema: dict[str, Metric]) -> Table:
    metric = schema[PRIMARY]
    ranks: dict[str, list[float]] = {}
    wins: dict[str, float] = {}
    for _, means in used:
        labels = list(means)
        scores = np.array([metric.oriented(means[label]) for label in labels])
        for label, rank, score in zip(labels, average_ranks(-scores), scores):
            ranks.setdefault(label, []).append(float(rank))
            wins[label] = wins.get(label, 0.0) + float(np.sum(score > scores) + 0.5 * (np.sum(score == scores) - 1))
    metrics = [schema[k] for k in SUMMARY_KEYS]
    games = len(used) * (len(ranks) - 1)
    rows = []
    for label in sorted(ranks, key=lambda name: (np.mean(ranks[name]), name)):
        values = (len(ranks[label]), float(np.mean(ranks[label])), wins[label] / games)
        rows.append(Row(label, OURS, [Cell(m, mean=v) for m, v in zip(metrics, values)]))
    for i, summary_metric in enumerate(metrics[1:], start=1):
        top = max(summary_metric.oriented(row.cells[i].mean) for row in rows)
        for row in rows:
            row.cells[i].best = summary_metric.oriented(row.cells[i].mean) == top
    first = used[0][0]
    caption = [f"Ranks by {metric.name} of the {len(ranks)} methods that each of these {len(used)} leaderboard "
               f"tables (dataset x setting) holds with n ≥ {MIN_RUNS} runs, all under one recipe; "
               f"only these methods' rows are ranked; published rows and rows selected on the test set never "
               f"take part; {left_out} other table{'s' if left_out != 1 else ''} left out.",
               "Tables: " + "; ".join(table.title for table, _ in used) + "."]
    title = "Cross-dataset summary" + (f" · {first.recipe_short}" if first.recipe_short else "")
    return Table("summary", title, [Column(m.key, m.name, m) for m in metrics], rows, caption,
                 [schema[k].name + ": " + schema[k].description for k in SUMMARY_KEYS], role="summary",
                 setting=first.setting, recipe_short=first.recipe_short)
