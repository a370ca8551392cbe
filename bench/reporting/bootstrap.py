"""Paired bootstrap over test images: every run's metrics recomputed on the same resampled test sets.

A replicate draws N test images with replacement (image ``i`` gets weight ``w_i`` = how often it was
drawn, the same weights for every run: the comparison is paired). Per class, AP on the replicate is
sklearn's ``average_precision_score`` with ``sample_weight=w`` over the class's annotated entries:

    AP_c = (1 / P_c) * sum_{tie groups g} TPw(g) * TPw(<= g) / Nw(<= g),   P_c = sum of w over positives

(distinct scores in descending order, tied scores one step -- the tie rule of ``bench.metrics``). A
class whose replicate has no weighted positive or no weighted negative is excluded, as the
``partial`` evaluator (CSL ``AP_partial``) excludes it. From the per-class APs: ``map_c`` (mean over
valid classes), ``map_o`` (weighted by each class's weighted positive count), ``group:<name>``
(mean over a class group), ``class:<name>`` (one class), and ``micro_ap`` (all annotated entries in
one ranking). All on a 0-100 scale. With unit weights these are exactly ``bench.metrics.evaluate``'s
values, which ``PairedBootstrap.point`` exposes so callers can check a run's scores against its record.

Only the tie groups holding a positive enter the sum, so the negatives ranked between two such
groups are merged into the later one's *bucket* (those after a ranking's last positive group into
one tail bucket): the cumulative counts at every positive group are unchanged and the dense work per
replicate is O(positive groups), not O(tie groups). Each replicate costs two sparse (bucket x image)
products, O(annotated entries); replicates are processed in blocks so that no block array exceeds
``block_elements`` values, and the blocks' image weights are kept (``keep_weights`` values at most)
for the next run scored on the same test set.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from bench.labels.encoding import POS, LabelMatrix, canonical_csr
from bench.metrics.ranking import descending_score_key


@dataclass(frozen=True)
class LabelledTestSet:
    """Test labels in our encoding with their class names and class groups (name -> indices)."""

    labels: LabelMatrix
    class_names: list[str]
    class_groups: dict[str, list[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Ranking:
    """The buckets of every ranking as (bucket x image) counts of positive / negative entries: a
    bucket is one tie group holding a positive plus the negative-only groups ranked just above it,
    or a ranking's tail of negative-only groups below its last positive."""

    positives: sp.csr_array  # [k, i]: positive entries of image i in bucket k
    negatives: sp.csr_array
    starts: np.ndarray       # first bucket of each present ranking
    present: np.ndarray      # the rankings (classes) that have entries

    @property
    def num_groups(self) -> int:
        return int(self.positives.shape[0])


def _ranking(classes: np.ndarray, scores: np.ndarray, rows: np.ndarray, positive: np.ndarray,
             num_images: int) -> _Ranking:
    """Entries sorted by (ranking, score descending) through one packed uint64 key (the tie rule of
    ``bench.metrics.ranking``: equal scores get equal keys); equal keys form one tie group, and each
    group goes to the bucket of the first group at or below it that holds a positive or ends its
    ranking (``_Ranking``)."""
    score_key, bits = descending_score_key(scores)
    if bits + int(classes.max(initial=0)).bit_length() > 64:
        raise ValueError(f"test scores: {bits}-bit score ranks x {int(classes.max()) + 1} rankings "
                         "do not fit one 64-bit sort key")
    key = (classes.astype(np.uint64) << np.uint64(bits)) | score_key
    order = np.argsort(key, kind="stable")
    key, c, r, p = key[order], classes[order], rows[order], positive[order]
    new = np.ones(order.size, dtype=bool)
    new[1:] = key[1:] != key[:-1]
    group = np.cumsum(new) - 1
    num_groups = int(new.sum())
    closing = np.zeros(num_groups, dtype=bool)
    closing[group[p]] = True
    last = np.ones(order.size, dtype=bool)
    last[:-1] = c[1:] != c[:-1]
    closing[group[last]] = True
    bucket = (np.cumsum(closing) - closing)[group]
    shape = (int(closing.sum()), num_images)
    counts = [sp.csr_array((np.ones(int(m.sum())), (bucket[m], r[m])), shape=shape) for m in (p, ~p)]
    present, starts = np.unique(c, return_index=True)
    return _Ranking(counts[0], counts[1], bucket[starts], present)


class PairedBootstrap:
    """Replicate statistics of runs scored on one test set, with shared (paired) image weights."""

    def __init__(self, test: LabelledTestSet, n_boot: int = 1000, seed: int = 0, block_elements: int = 2_000_000,
                 keep_weights: int = 8_000_000):
        csr = canonical_csr(test.labels)
        self.test = test
        self.num_images, self.num_classes = csr.shape
        self.rows = np.repeat(np.arange(self.num_images), np.diff(csr.indptr))
        self.classes = csr.indices.astype(np.int64)
        self.positive = csr.data == POS
        self.n_boot, self.seed, self.block_elements = int(n_boot), int(seed), int(block_elements)
        # buckets per ranking <= its positives + one tail: a bound on every run's block width
        self._width = int(self.positive.sum()) + self.num_classes
        self._keep = self.n_boot * self.num_images <= keep_weights
        self._columns: list[np.ndarray] | None = None

    @property
    def num_entries(self) -> int:
        return int(self.classes.size)

    def weight_blocks(self, width: int = 1) -> Iterator[np.ndarray]:
        """(b, N) int32 image weights, the same sequence for every run and any block size (seeded
        once per call); b * max(N, width) stays within ``block_elements``."""
        rng = np.random.default_rng(self.seed)
        per_block = max(1, self.block_elements // max(self.num_images, width, 1))
        done = 0
        while done < self.n_boot:
            b = min(per_block, self.n_boot - done)
            draws = rng.integers(0, self.num_images, size=(b, self.num_images))
            draws += (np.arange(b) * self.num_images)[:, None]
            counts = np.bincount(draws.ravel(), minlength=b * self.num_images)
            yield counts.reshape(b, self.num_images).astype(np.int32)
            done += b

    def _column_blocks(self) -> Iterator[np.ndarray]:
        """The weight blocks as contiguous float64 (N, b) columns, kept for the next run when small."""
        if self._columns is not None:
            yield from self._columns
            return
        kept = []
        for weights in self.weight_blocks(self._width):
            columns = np.ascontiguousarray(weights.T, dtype=np.float64)
            if self._keep:
                kept.append(columns)
            yield columns
        if self._keep:
            self._columns = kept

    def _check(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores).ravel()
        if scores.size != self.num_entries:
            raise ValueError(f"test scores: {scores.size} values, the test labels hold {self.num_entries} "
                             "annotated entries")
        return scores

    def point(self, scores: np.ndarray, statistics: Sequence[str]) -> dict[str, float]:
        """The statistics with unit weights (the run's own test metrics)."""
        ones = np.ones((self.num_images, 1), dtype=np.float64)
        values = self._evaluate(self._check(scores), statistics, lambda: iter([ones]))
        return {k: float(v[0]) for k, v in values.items()}

    def replicates(self, scores: np.ndarray, statistics: Sequence[str]) -> dict[str, np.ndarray]:
        """Each statistic on every replicate: ``{statistic: (n_boot,) float64}`` (NaN where undefined)."""
        return self._evaluate(self._check(scores), statistics, self._column_blocks)

    def _evaluate(self, scores: np.ndarray, statistics: Sequence[str], blocks) -> dict[str, np.ndarray]:
        per_class = _ranking(self.classes, scores, self.rows, self.positive, self.num_images)
        pooled = _ranking(np.zeros_like(self.classes), scores, self.rows, self.positive, self.num_images) \
            if "micro_ap" in statistics else None
        out: dict[str, list[np.ndarray]] = {k: [] for k in statistics}
        for columns in blocks():
            ap, n_pos = _weighted_ap(per_class, columns, self.num_classes)
            for key in statistics:
                if key == "micro_ap":
                    out[key].append(100.0 * _weighted_ap(pooled, columns, 1)[0][:, 0])
                else:
                    out[key].append(self._reduce(key, ap, n_pos))
        return {k: np.concatenate(v) for k, v in out.items()}

    def _reduce(self, statistic: str, ap: np.ndarray, n_pos: np.ndarray) -> np.ndarray:
        kind, _, name = statistic.partition(":")
        valid = ~np.isnan(ap)
        if kind == "map_c":
            return 100.0 * _nanmean(ap, valid)
        if kind == "map_o":
            weight = np.where(valid, n_pos, 0).sum(axis=1)
            total = np.where(valid, np.nan_to_num(ap) * n_pos, 0.0).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(weight > 0, 100.0 * total / np.maximum(weight, 1), np.nan)
        if kind == "group":
            members = np.unique(np.asarray(self.test.class_groups.get(name, []), dtype=np.int64))
            if members.size == 0:
                return np.full(ap.shape[0], np.nan)
            return 100.0 * _nanmean(ap[:, members], valid[:, members])
        if kind == "class":
            if name not in self.test.class_names:
                return np.full(ap.shape[0], np.nan)
            return 100.0 * ap[:, self.test.class_names.index(name)]
        raise ValueError(f"bootstrap statistic: unknown {statistic!r}")


def _nanmean(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    count = valid.sum(axis=1)
    total = np.where(valid, values, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _weighted_ap(r: _Ranking, columns: np.ndarray, num_rankings: int) -> tuple[np.ndarray, np.ndarray]:
    """(b, R) weighted AP per ranking (NaN when no weighted positive or no weighted negative) and the
    (b, R) weighted positive counts, for the b weight vectors of ``columns`` (N, b) float64.

    Weighted counts per bucket are two sparse products; cumulative counts within a ranking are one
    cumulative sum over all buckets, restarted at each ranking's first bucket by subtracting the
    previous ranking's total there. Every count is an integer below 2**53 summed in float64: exact."""
    ap = np.full((columns.shape[1], num_rankings), np.nan)
    counts = np.zeros((columns.shape[1], num_rankings))
    if r.num_groups == 0:
        return ap, counts
    group_tp = r.positives @ columns
    seen = r.negatives @ columns
    seen += group_tp
    tp = group_tp.copy()
    n_pos = np.add.reduceat(tp, r.starts, axis=0)
    n_all = np.add.reduceat(seen, r.starts, axis=0)
    tp[r.starts[1:]] -= n_pos[:-1]
    seen[r.starts[1:]] -= n_all[:-1]
    np.cumsum(tp, axis=0, out=tp)
    np.cumsum(seen, axis=0, out=seen)
    np.maximum(seen, 1.0, out=seen)
    np.divide(tp, seen, out=tp)
    tp *= group_tp
    sums = np.add.reduceat(tp, r.starts, axis=0)
    ap[:, r.present] = np.where((n_pos > 0) & (n_pos < n_all), sums / np.maximum(n_pos, 1.0), np.nan).T
    counts[:, r.present] = n_pos.T
    return ap, counts
