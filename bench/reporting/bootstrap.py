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

Each replicate costs two sparse (tie group x image) products, O(annotated entries), plus O(tie
groups); replicates are processed in blocks so that no block array exceeds ``block_elements`` values.
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
    """The tie groups of every ranking as (group x image) counts of positive / negative entries."""

    positives: sp.csr_array  # [g, i]: positive entries of image i in tie group g
    negatives: sp.csr_array
    starts: np.ndarray       # first tie group of each present ranking
    present: np.ndarray      # the rankings (classes) that have entries

    @property
    def num_groups(self) -> int:
        return int(self.positives.shape[0])


def _ranking(classes: np.ndarray, scores: np.ndarray, rows: np.ndarray, positive: np.ndarray,
             num_images: int) -> _Ranking:
    """Entries sorted by (ranking, score descending) through one packed uint64 key (the tie rule of
    ``bench.metrics.ranking``: equal scores get equal keys); equal keys form one tie group."""
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
    shape = (int(new.sum()), num_images)
    counts = [sp.csr_array((np.ones(int(m.sum())), (group[m], r[m])), shape=shape) for m in (p, ~p)]
    present, starts = np.unique(c[new], return_index=True)
    return _Ranking(counts[0], counts[1], starts, present)


class PairedBootstrap:
    """Replicate statistics of runs scored on one test set, with shared (paired) image weights."""

    def __init__(self, test: LabelledTestSet, n_boot: int = 1000, seed: int = 0, block_elements: int = 2_000_000):
        csr = canonical_csr(test.labels)
        self.test = test
        self.num_images, self.num_classes = csr.shape
        self.rows = np.repeat(np.arange(self.num_images), np.diff(csr.indptr))
        self.classes = csr.indices.astype(np.int64)
        self.positive = csr.data == POS
        self.n_boot, self.seed, self.block_elements = int(n_boot), int(seed), int(block_elements)

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

    def _check(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores).ravel()
        if scores.size != self.num_entries:
            raise ValueError(f"test scores: {scores.size} values, the test labels hold {self.num_entries} "
                             "annotated entries")
        return scores

    def point(self, scores: np.ndarray, statistics: Sequence[str]) -> dict[str, float]:
        """The statistics with unit weights (the run's own test metrics)."""
        ones = np.ones((1, self.num_images), dtype=np.int32)
        values = self._evaluate(self._check(scores), statistics, lambda width: [ones])
        return {k: float(v[0]) for k, v in values.items()}

    def replicates(self, scores: np.ndarray, statistics: Sequence[str]) -> dict[str, np.ndarray]:
        """Each statistic on every replicate: ``{statistic: (n_boot,) float64}`` (NaN where undefined)."""
        return self._evaluate(self._check(scores), statistics, self.weight_blocks)

    def _evaluate(self, scores: np.ndarray, statistics: Sequence[str], blocks) -> dict[str, np.ndarray]:
        per_class = _ranking(self.classes, scores, self.rows, self.positive, self.num_images)
        pooled = _ranking(np.zeros_like(self.classes), scores, self.rows, self.positive, self.num_images) \
            if "micro_ap" in statistics else None
        width = max(per_class.num_groups, pooled.num_groups if pooled else 0)
        out: dict[str, list[np.ndarray]] = {k: [] for k in statistics}
        for weights in blocks(width):
            ap, n_pos = _weighted_ap(per_class, weights, self.num_classes)
            for key in statistics:
                if key == "micro_ap":
                    out[key].append(100.0 * _weighted_ap(pooled, weights, 1)[0][:, 0])
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


def _weighted_ap(r: _Ranking, weights: np.ndarray, num_rankings: int) -> tuple[np.ndarray, np.ndarray]:
    """(b, R) weighted AP per ranking (NaN when no weighted positive or no weighted negative) and the
    (b, R) weighted positive counts, for the b weight vectors of ``weights`` (b, N).

    Weighted counts per tie group are two sparse products (exact: integer weights summed in float64);
    cumulative counts within a ranking are cumulative sums over its groups minus those before it."""
    ap = np.full((weights.shape[0], num_rankings), np.nan)
    counts = np.zeros((weights.shape[0], num_rankings))
    if r.num_groups == 0:
        return ap, counts
    columns = np.ascontiguousarray(weights.T, dtype=np.float64)
    group_tp = r.positives @ columns
    cum_tp = np.cumsum(group_tp, axis=0)
    cum_seen = np.cumsum(group_tp + r.negatives @ columns, axis=0)
    segment = np.repeat(np.arange(r.starts.size), np.diff(np.append(r.starts, r.num_groups)))
    before = np.maximum(r.starts - 1, 0)
    has_before = (r.starts > 0)[:, None]
    tp = cum_tp - np.where(has_before, cum_tp[before], 0.0)[segment]
    seen = cum_seen - np.where(has_before, cum_seen[before], 0.0)[segment]
    sums = np.add.reduceat(group_tp * (tp / np.maximum(seen, 1.0)), r.starts, axis=0)
    last = np.append(r.starts[1:], r.num_groups) - 1
    n_pos, n_all = tp[last], seen[last]
    ap[:, r.present] = np.where((n_pos > 0) & (n_pos < n_all), sums / np.maximum(n_pos, 1.0), np.nan).T
    counts[:, r.present] = n_pos.T
    return ap, counts
