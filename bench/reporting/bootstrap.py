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

The work per run is two rankings (per class, and pooled for ``micro_ap``), sorted once and shared by
the unit weights and every replicate (``bench.reporting.rankings``); each replicate then costs
sparse products over the annotated entries, O(entries), for a block of replicates at a time. Blocks
hold b weight vectors with b * max(N, buckets) within ``block_elements`` values, and are kept
(``keep_weights`` values at most) for the next run scored on the same test set.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.reporting.rankings import Ranking, RankingLayout, WeightBlock, build_ranking, weighted_ap


@dataclass(frozen=True)
class LabelledTestSet:
    """Test labels in our encoding with their class names and class groups (name -> indices)."""

    labels: Any  # bench.labels.encoding.LabelMatrix
    class_names: list[str]
    class_groups: dict[str, list[int]] = field(default_factory=dict)


class PairedBootstrap:
    """Replicate statistics of runs scored on one test set, with shared (paired) image weights."""

    def __init__(self, test: LabelledTestSet, n_boot: int = 1000, seed: int = 0, block_elements: int = 12_000_000,
                 keep_weights: int = 8_000_000):
        from bench.labels.encoding import POS, canonical_csr  # with scipy.sparse: only when labels are read

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
        self._kept: list[WeightBlock] | None = None
        self._layouts: dict[str, RankingLayout] = {}

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

    def _blocks(self) -> Iterator[WeightBlock]:
        """The weight blocks, kept for the next run when small."""
        if self._kept is not None:
            yield from self._kept
            return
        kept = []
        for weights in self.weight_blocks(self._width):
            block = WeightBlock(weights)
            if self._keep:
                kept.append(block)
            yield block
        if self._keep:
            self._kept = kept

    def _check(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores).ravel()
        if scores.size != self.num_entries:
            raise ValueError(f"test scores: {scores.size} values, the test labels hold {self.num_entries} "
                             "annotated entries")
        return scores

    def point(self, scores: np.ndarray, statistics: Sequence[str]) -> dict[str, float]:
        """The statistics with unit weights (the run's own test metrics)."""
        return self.evaluate(scores, statistics, replicates=False)[0]

    def replicates(self, scores: np.ndarray, statistics: Sequence[str]) -> dict[str, np.ndarray]:
        """Each statistic on every replicate: ``{statistic: (n_boot,) float64}`` (NaN where undefined)."""
        return self.evaluate(scores, statistics)[1]

    def evaluate(self, scores: np.ndarray, statistics: Sequence[str],
                 replicates: bool = True) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """``(point, replicates)`` of ``point`` and ``replicates`` from one sort of the scores
        (replicates empty when not asked)."""
        rankings = self._rankings(self._check(scores), statistics)
        unit = WeightBlock(np.ones((1, self.num_images), dtype=np.int32))
        point = {k: float(v[0]) for k, v in self._statistics(rankings, statistics, unit).items()}
        out: dict[str, list[np.ndarray]] = {k: [] for k in statistics}
        for block in self._blocks() if replicates else ():
            for key, values in self._statistics(rankings, statistics, block).items():
                out[key].append(values)
        return point, {k: np.concatenate(v) for k, v in out.items()} if replicates else {}

    def _layout(self, name: str) -> RankingLayout:
        if name not in self._layouts:
            per_class = name == "class"
            rankings = self.classes if per_class else np.zeros(self.classes.size, dtype=np.int8)
            self._layouts[name] = RankingLayout.of(rankings, self.num_classes if per_class else 1)
        return self._layouts[name]

    def _rankings(self, scores: np.ndarray, statistics: Sequence[str]) -> dict[str, Ranking]:
        names = ["class"] + (["pooled"] if "micro_ap" in statistics else [])
        return {name: build_ranking(self._layout(name), scores, self.rows, self.positive, self.num_images,
                                    distinct_images=name == "class") for name in names}

    def _statistics(self, rankings: dict[str, Ranking], statistics: Sequence[str],
                    block: WeightBlock) -> dict[str, np.ndarray]:
        ap, n_pos = weighted_ap(rankings["class"], block, self.num_classes)
        out = {}
        for key in statistics:
            if key == "micro_ap":
                out[key] = 100.0 * weighted_ap(rankings["pooled"], block, 1)[0][:, 0]
            else:
                out[key] = self._reduce(key, ap, n_pos)
        return out

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
