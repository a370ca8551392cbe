"""The cross-dataset summary: mean rank and win rate of each method over the leaderboard tables.

Over every leaderboard table with at least two ranked rows holding the primary metric (mAP(C)):
a row's rank is its position by mean (1 = best, ties share the average rank, ``scipy.stats.rankdata``);
its win rate is the share of (table, other row) pairs it beats, a tie counting one half. Rows are
matched across tables by label (the method selector; "(tuned)" rows by family). Published rows never
take part.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.stats import rankdata

from bench.reporting.model import OURS, TUNED, Cell, Column, Row, Table
from bench.reporting.schema import Metric

PRIMARY = "map_c"
SUMMARY_KEYS = ("summary_tables", "mean_rank", "win_rate")


@dataclass
class _Tally:
    ranks: list[float] = field(default_factory=list)
    wins: float = 0.0
    games: int = 0


def cross_dataset_summary(tables: list[Table], schema: dict[str, Metric]) -> Table | None:
    """The summary table (None when no table ranks two rows)."""
    tallies: dict[str, _Tally] = {}
    used = 0
    for table in tables:
        index = next((i for i, c in enumerate(table.columns) if c.metric.key == PRIMARY), None)
        if index is None:
            continue
        ranked = [(row.label, row.cells[index].mean) for row in table.rows
                  if row.origin in (OURS, TUNED) and row.cells[index] is not None and row.cells[index].mean is not None]
        if len(ranked) < 2:
            continue
        used += 1
        metric = table.columns[index].metric
        scores = np.array([metric.oriented(mean) for _, mean in ranked])
        ranks = rankdata(-scores, method="average")
        for i, (label, _) in enumerate(ranked):
            tally = tallies.setdefault(label, _Tally())
            tally.ranks.append(float(ranks[i]))
            tally.wins += float(np.sum(scores[i] > scores) + 0.5 * (np.sum(scores[i] == scores) - 1))
            tally.games += len(ranked) - 1
    if not tallies:
        return None
    metrics = [schema[k] for k in SUMMARY_KEYS]
    columns = [Column(m.key, m.name, m) for m in metrics]
    rows = []
    for label in sorted(tallies, key=lambda name: (np.mean(tallies[name].ranks), name)):
        tally = tallies[label]
        values = (len(tally.ranks), float(np.mean(tally.ranks)), tally.wins / tally.games)
        rows.append(Row(label, OURS, [Cell(m, mean=v) for m, v in zip(metrics, values)]))
    for i, metric in enumerate(metrics[1:], start=1):
        top = max(metric.oriented(row.cells[i].mean) for row in rows)
        for row in rows:
            row.cells[i].best = metric.oriented(row.cells[i].mean) == top
    caption = [f"Ranks by {schema[PRIMARY].name} over {used} leaderboard table{'s' if used != 1 else ''} "
               "(dataset x setting); published rows excluded."]
    return Table("summary", "Cross-dataset summary", columns, rows, caption,
                 [schema[k].name + ": " + schema[k].description for k in SUMMARY_KEYS], role="summary")
