"""Honest significance: the (seed, split_seed) pair is the unit (bench.reporting.significance and
bench.reporting.marking), on constructed runs whose seed variance and test-image noise are known."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ttest_rel
from test_reporting_factory import Loader, add_run, make_test_set

from bench.reporting import ReportOptions, assemble
from bench.reporting.bootstrap import PairedBootstrap
from bench.reporting.significance import MIN_PAIRS, hierarchical_p, seed_ttest_p
from bench.store import Store

SCENE = "scene+rpa[p=0.5]"
SLOPE = 0.03  # quality per mAP(C) point, about, on the test set below


def _pairs(best: np.ndarray, other: np.ndarray, image_sd: float, boot: int = 4000, seed: int = 0):
    """points (n, 2) and replicates (n, 2, B): each run's metric plus test-image noise. On a resample
    the images favour one row by the same amount for every seed (the test images are shared by all
    seeds; sd ``image_sd``), and each run moves a little on its own."""
    rng = np.random.default_rng(seed)
    shared = np.stack([rng.normal(scale=image_sd, size=boot), np.zeros(boot)])
    own = rng.normal(scale=image_sd / 4, size=(best.size, 2, boot))
    points = np.stack([best, other], axis=1)
    return points, points[:, :, None] + shared + own


def test_a_gap_below_the_seed_noise_is_not_significant():
    other = 70.0 + np.array([-1.0, 0.0, 1.0])
    best = 70.8 + np.array([1.0, -1.0, 0.0])  # seed std 1, gap 0.8
    points, reps = _pairs(best, other, image_sd=0.05)
    p = hierarchical_p(points, reps)
    assert p > 0.3
    # with almost no image noise the test is the paired t-test across the pairs
    assert p == pytest.approx(ttest_rel(best, other).pvalue, abs=0.03)


def test_a_large_gap_over_little_seed_noise_is_significant():
    other = 70.0 + 0.2 * np.array([-1.0, 0.0, 1.0])
    best = 75.0 + 0.2 * np.array([1.0, -1.0, 0.0])  # seed std 0.2, gap 5
    points, reps = _pairs(best, other, image_sd=0.3)
    assert hierarchical_p(points, reps) < 0.01


def test_image_noise_counts_even_without_seed_noise():
    best, other = np.full(3, 71.0), np.full(3, 70.0)  # the same gap on every seed
    assert seed_ttest_p(dict(enumerate(best)), dict(enumerate(other))) == 0.0  # the t-test sees no noise
    noisy = _pairs(best, other, image_sd=2.0)
    assert hierarchical_p(*noisy) > 0.3  # a 1-point gap on a test set this noisy is not a finding
    quiet = _pairs(best, other, image_sd=0.02)
    assert hierarchical_p(*quiet) < 0.001


def test_edge_cases():
    points = np.array([[70.0, 70.0]] * 3)
    assert hierarchical_p(points, np.repeat(points[:, :, None], 50, axis=2)) == 1.0  # identical runs
    shifted = points + np.array([1.0, 0.0])
    assert hierarchical_p(shifted, np.repeat(shifted[:, :, None], 50, axis=2)) == 0.0  # no noise at all
    two = _pairs(np.array([75.0, 76.0]), np.array([70.0, 70.5]), 0.1)
    assert hierarchical_p(*two) is None  # fewer than MIN_PAIRS pairs
    assert seed_ttest_p({0: 75.0, 1: 76.0}, {0: 70.0, 1: 70.5}) is None
    pts, reps = _pairs(np.array([72.0, 71.0, 73.0]), np.array([70.0, 70.5, 70.2]), 0.1)
    reps[0, 0, :10] = np.nan  # undefined on 10 resamples: dropped
    assert hierarchical_p(pts, reps) == pytest.approx(hierarchical_p(pts[:, :, None][..., 0], reps[:, :, 10:]),
                                                      abs=0.02)
    assert hierarchical_p(-pts, -reps, sign=-1.0) == pytest.approx(hierarchical_p(pts, reps))  # smaller better


# -- through the report: constructed runs, real scores, real bootstrap -------------------------------------


@pytest.fixture(scope="module")
def labels():
    return make_test_set(3000, ["a", "b", "c", "d"], seed=11)


def _runs(store, labels, method, base, offsets, index, seeds=(0, 1, 2), split_seeds=None):
    """One run per seed with quality base + offset; every run shares one score-noise draw, so runs
    differ by their quality (the seed effect) and the test-image noise of a difference is small."""
    split_seeds = split_seeds or [0] * len(seeds)
    return [add_run(store, labels, method, SCENE, seed, base + offset, split_seed=split, noise_seed=99,
                    index=index + i)
            for i, (seed, split, offset) in enumerate(zip(seeds, split_seeds, offsets))]


def _table(store, labels, **options):
    records = store.runs(status="done", latest_done_per_config=True)
    report = assemble(records, ReportOptions(test_sets=Loader({"scene": labels}), n_boot=300, figures=False,
                                             references="none", **options))
    return report.tables[0]


def _cells(tab):
    return {row.label: row.cells[0] for row in tab.rows}


def _old_image_only_p(runs_best, runs_other, labels):
    """The report's former test: a paired bootstrap over test images of the two rows' seed means."""
    boot = PairedBootstrap(labels, n_boot=300)
    best = np.mean([boot.replicates(r.test_scores(), ["map_c"])["map_c"] for r in runs_best], axis=0)
    other = np.mean([boot.replicates(r.test_scores(), ["map_c"])["map_c"] for r in runs_other], axis=0)
    diff = best - other
    return 2 * min(np.mean(diff <= 0), np.mean(diff >= 0))


def test_seed_noise_gap_is_not_marked_significant(tmp_path, labels):
    store = Store(tmp_path / "s.db")
    worse = _runs(store, labels, "worse", 1.0, SLOPE * np.array([-1.0, 0.0, 1.0]), 0)
    better = _runs(store, labels, "better", 1.0 + 0.8 * SLOPE, SLOPE * np.array([1.0, -1.0, 0.0]), 10)
    cells = _cells(_table(store, labels))
    gap = cells["better"].mean - cells["worse"].mean
    assert 0.5 < gap < 1.1 and 0.7 < cells["worse"].std < 1.5 and 0.7 < cells["better"].std < 1.5  # as built
    assert cells["better"].best and cells["worse"].tied and cells["worse"].p_value > 0.2
    assert _old_image_only_p(better, worse, labels) < 0.05  # the image-only bootstrap called it significant


def test_large_gap_with_small_seed_noise_is_marked(tmp_path, labels):
    store = Store(tmp_path / "s.db")
    _runs(store, labels, "worse", 1.0, 0.2 * SLOPE * np.array([-1.0, 0.0, 1.0]), 0)
    _runs(store, labels, "better", 1.0 + 5 * SLOPE, 0.2 * SLOPE * np.array([1.0, -1.0, 0.0]), 10)
    tab = _table(store, labels)
    cells = _cells(tab)
    assert 4.0 < cells["better"].mean - cells["worse"].mean < 6.5 and cells["worse"].std < 0.4
    assert not cells["worse"].tied and not cells["worse"].untested and cells["worse"].p_value < 0.01
    assert tab.columns[0].test == "bootstrap"
    assert ("hierarchical bootstrap of the mean paired difference over the (seed, split_seed) pairs both rows ran "
            "(training seeds varied, split seed fixed at 0), resampling pairs, then the 3000 test images "
            "(300 resamples, the same images for every run)") in tab.footnotes[1]
    assert tab.footnotes[0].startswith("Cells: mean ± std (ddof=1) over the n runs of a row, one per (seed, "
                                       "split_seed) pair (training seeds varied, split seed fixed at 0)")


@pytest.mark.parametrize("seeds, split_seeds, text", [
    ((0, 0, 0), (0, 1, 2), "split seeds varied, training seed fixed at 0"),
    ((0, 1, 2), (3, 4, 5), "both the training seed and the split seed varied"),
])
def test_footnotes_say_which_seeds_varied(tmp_path, labels, seeds, split_seeds, text):
    store = Store(tmp_path / "s.db")
    _runs(store, labels, "worse", 1.0, [0.0, 0.01, 0.02], 0, seeds, split_seeds)
    _runs(store, labels, "better", 1.2, [0.0, 0.01, 0.02], 10, seeds, split_seeds)
    for significance in ("auto", "seeds"):
        tab = _table(store, labels, significance=significance)
        assert f"one per (seed, split_seed) pair ({text})" in tab.footnotes[0]
        assert f"pairs both rows ran ({text}" in tab.footnotes[1]
        assert "training seeds)" not in " ".join(tab.footnotes)


def test_no_mark_below_three_matched_pairs(tmp_path, labels):
    store = Store(tmp_path / "s.db")
    _runs(store, labels, "best", 1.5, [0.0, 0.0, 0.0], 0)
    _runs(store, labels, "two-seeds", 1.0, [0.0, 0.0], 10, seeds=(0, 1))
    _runs(store, labels, "other-seeds", 1.0, [0.0, 0.0, 0.0], 20, seeds=(0, 5, 6))  # one pair in common
    _runs(store, labels, "tested", 1.0, [0.0, 0.01, 0.02], 30)
    for significance in ("auto", "seeds"):
        tab = _table(store, labels, significance=significance)
        cells = _cells(tab)
        for label in ("two-seeds", "other-seeds"):
            assert cells[label].untested and not cells[label].tied and cells[label].p_value is None
        assert not cells["tested"].untested and cells["tested"].p_value is not None
        assert (f"† not tested against the best, no claim either way (mAP(C), mAP(O): the row shares fewer than "
                f"{MIN_PAIRS} (seed, split_seed) pairs with the best row; no significance mark is given below "
                f"n = {MIN_PAIRS} pairs).") in tab.footnotes


def test_test_selected_rows_are_flagged_and_never_ranked(tmp_path, labels):
    store = Store(tmp_path / "s.db")
    _runs(store, labels, "honest", 1.0, [0.0, 0.01, 0.02], 0)
    for i, seed in enumerate((0, 1, 2)):
        add_run(store, labels, "peeked", SCENE, seed, 2.0, select_on="test", noise_seed=99, index=10 + i)
    tab = _table(store, labels)
    cells = _cells(tab)
    peeked = next(row for row in tab.rows if row.label.startswith("peeked"))
    assert peeked.cells[0].mean > cells["honest"].mean
    assert not any(c.best or c.tied or c.untested or c.p_value is not None for c in peeked.cells)
    assert cells["honest"].best  # the best of the ranked rows, although a flagged row scores higher
    assert any(n.startswith("⚑ model selected on the test set: shown, never ranked") for n in tab.footnotes)
