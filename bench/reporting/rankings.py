"""One run's rankings for the paired bootstrap, built once, and their weighted AP on blocks of weights.

A ranking is one class's annotated entries (or, for ``micro_ap``, all of them) in descending score
order, equal scores forming one tie group (the tie rule of ``bench.metrics.ranking``). Only the tie
groups holding a positive enter the weighted AP (``bench.reporting.bootstrap``), so the negatives
ranked between two such groups are merged into the later one's *bucket* (those after a ranking's last
positive group into one tail bucket). A ranking is kept as two sparse (bucket x image) count matrices
in CSR form, positives and negatives, built straight from the sorted entries (no COO conversion).

Sorting: one ``np.sort`` of packed uint64 keys (ranking, score key, position within the ranking),
which carries the permutation in its low bits, when those fit 64 bits; else a stable ``argsort``.

Exactness: every count is an integer, and counts are summed in integers: int32 when no ranking's
weighted count can reach 2**31 (at most its entries times the largest weight, and at most N when
each image has one entry per ranking, as in a class), else int64. Precision and AP are float64
(integers below 2**53 convert exactly), each ranking's sum in the same order whatever the block
size, so a replicate's values do not depend on the block it was computed in.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp

INT32_LIMIT = 2 ** 31


@dataclass(frozen=True)
class Ranking:
    """The buckets of every ranking as (bucket x image) counts of positive / negative entries."""

    positives: sp.csr_array  # [k, i]: positive entries of image i in bucket k (int32 ones)
    negatives: sp.csr_array
    starts: np.ndarray       # first bucket of each present ranking
    present: np.ndarray      # the rankings (classes) that have entries
    largest: int             # entries of the largest ranking
    image_bound: int         # no ranking's weighted count exceeds this (N when images are distinct)

    @property
    def num_groups(self) -> int:
        return int(self.positives.shape[0])

    def count_dtype(self, max_weight: int) -> type:
        """int32 when no ranking's weighted count can reach 2**31 with weights <= ``max_weight``, else int64."""
        return np.int32 if min(self.largest * max_weight, self.image_bound) < INT32_LIMIT else np.int64


@dataclass
class WeightBlock:
    """b weight vectors: ``counts`` (b, N) int32, and as contiguous (N, b) columns of a dtype (cached)."""

    counts: np.ndarray

    def __post_init__(self) -> None:
        self.size = int(self.counts.shape[0])
        self.max_weight = int(self.counts.max(initial=0))
        self._columns: dict[type, np.ndarray] = {}

    def columns(self, dtype: type) -> np.ndarray:
        if dtype not in self._columns:
            self._columns[dtype] = np.ascontiguousarray(self.counts.T, dtype=dtype)
        return self._columns[dtype]


@dataclass(frozen=True)
class RankingLayout:
    """Entries grouped by ranking, which does not depend on the scores: ``order`` (a stable order of
    the entries by ranking, None for one ranking: the identity), ``sizes`` (entries per ranking),
    ``first`` (each ranking's first position in that order) and ``local`` (each position's offset
    within its ranking)."""

    rankings: np.ndarray
    order: np.ndarray | None
    sizes: np.ndarray
    first: np.ndarray
    local: np.ndarray

    @classmethod
    def of(cls, rankings: np.ndarray, num_rankings: int) -> RankingLayout:
        sizes = np.bincount(rankings, minlength=num_rankings)
        first = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        index = np.int32 if rankings.size < INT32_LIMIT else np.int64
        if num_rankings == 1:
            return cls(rankings, None, sizes, first, np.arange(rankings.size, dtype=index))
        narrow = rankings.astype(np.uint16) if num_rankings <= 1 << 16 else rankings  # 16 bits: a radix sort
        order = np.argsort(narrow, kind="stable")
        local = np.arange(rankings.size, dtype=np.int64) - np.repeat(first, sizes)
        return cls(rankings, order, sizes, first, local.astype(index))


def sorted_order(layout: RankingLayout, score_key: np.ndarray, bits: int) -> np.ndarray:
    """Entry order by (ranking ascending, score key ascending); ties in any order (they form one
    group, whose counts do not depend on it)."""
    n, num_rankings = layout.rankings.size, layout.sizes.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    local_bits = int(layout.sizes.max()).bit_length()
    rank_bits = int(num_rankings - 1).bit_length()
    if rank_bits + bits + local_bits > 64:
        key = (layout.rankings.astype(np.uint64) << np.uint64(bits)) | score_key
        return np.argsort(key, kind="stable")
    grouped = score_key if layout.order is None else score_key[layout.order]
    packed = (grouped << np.uint64(local_bits)) | layout.local.astype(np.uint64)
    if layout.order is not None:
        packed |= layout.rankings[layout.order].astype(np.uint64) << np.uint64(bits + local_bits)
    packed.sort()
    positions = (packed & np.uint64((1 << local_bits) - 1)).astype(np.int64)
    if layout.order is None:
        return positions
    ranks = (packed >> np.uint64(bits + local_bits)).astype(np.int64)
    return layout.order[layout.first[ranks] + positions]


def build_ranking(layout: RankingLayout, scores: np.ndarray, rows: np.ndarray, positive: np.ndarray,
                  num_images: int, distinct_images: bool) -> Ranking:
    """The buckets of every ranking (see the module docstring); ``distinct_images``: each image has
    at most one entry per ranking (per-class rankings)."""
    import scipy.sparse as sp

    from bench.metrics.ranking import descending_score_key

    score_key, bits = descending_score_key(scores)
    order = sorted_order(layout, score_key, bits)
    key, c, r, p = score_key[order], layout.rankings[order], rows[order], positive[order]
    new = np.ones(order.size, dtype=bool)
    new[1:] = (key[1:] != key[:-1]) | (c[1:] != c[:-1])
    group = np.cumsum(new) - 1
    num_groups = int(new.sum())
    closing = np.zeros(num_groups, dtype=bool)
    closing[group[p]] = True
    last = np.ones(order.size, dtype=bool)
    last[:-1] = c[1:] != c[:-1]
    closing[group[last]] = True
    bucket = (np.cumsum(closing) - closing)[group]
    num_buckets = int(closing.sum())
    matrices = []
    for mask in (p, ~p):
        per_bucket = np.bincount(bucket[mask], minlength=num_buckets)
        indptr = np.concatenate(([0], np.cumsum(per_bucket))).astype(np.int64)
        matrices.append(sp.csr_array((np.ones(int(mask.sum()), dtype=np.int32), r[mask].astype(np.int32), indptr),
                                     shape=(num_buckets, num_images)))
    starts = np.flatnonzero(np.concatenate(([True], c[1:] != c[:-1]))) if c.size else np.zeros(0, np.int64)
    present = c[starts]
    largest = int(layout.sizes.max(initial=0))
    image_bound = num_images if distinct_images else np.iinfo(np.int64).max
    return Ranking(matrices[0], matrices[1], bucket[starts], present, largest, image_bound)


def weighted_ap(r: Ranking, weights: WeightBlock, num_rankings: int) -> tuple[np.ndarray, np.ndarray]:
    """(b, R) weighted AP per ranking (NaN when no weighted positive or no weighted negative) and the
    (b, R) weighted positive counts, for the b weight vectors of ``weights``.

    Weighted counts per bucket are two sparse products; cumulative counts within a ranking are one
    cumulative sum over all buckets, restarted at each ranking's first bucket by subtracting the
    previous ranking's total there (integers, ``Ranking.count_dtype``: exact)."""
    ap = np.full((weights.size, num_rankings), np.nan)
    counts = np.zeros((weights.size, num_rankings))
    if r.num_groups == 0:
        return ap, counts
    dtype = r.count_dtype(weights.max_weight)
    x = weights.columns(dtype)
    group_tp, seen = (np.ascontiguousarray((m.astype(dtype, copy=False) @ x).T) for m in (r.positives, r.negatives))
    seen += group_tp
    n_pos = np.add.reduceat(group_tp, r.starts, axis=1)
    n_all = np.add.reduceat(seen, r.starts, axis=1)
    tp = group_tp.copy()
    tp[:, r.starts[1:]] -= n_pos[:, :-1]
    seen[:, r.starts[1:]] -= n_all[:, :-1]
    np.cumsum(tp, axis=1, out=tp)
    np.cumsum(seen, axis=1, out=seen)
    np.maximum(seen, 1, out=seen)
    precision = np.divide(tp, seen, dtype=np.float64)
    precision *= group_tp
    sums = np.add.reduceat(precision, r.starts, axis=1)
    ap[:, r.present] = np.where((n_pos > 0) & (n_pos < n_all), sums / np.maximum(n_pos, 1), np.nan)
    counts[:, r.present] = n_pos
    return ap, counts
