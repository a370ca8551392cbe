"""Leaderboard tables as data (bench.reporting.assemble): grouping, cells, marks, published rows,
tuned rows, flags and the cross-dataset summary, each checked against values computed here."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata
from test_reporting_factory import RECIPE, Loader, add_run, make_test_set

from bench.reporting import ReportOptions, assemble
from bench.reporting.model import OURS, REFERENCE, TEST_SELECTED, TUNED
from bench.reporting.summary import choose_methods
from bench.reporting.tuning import TuningError, load_tuning
from bench.store import Store

SCENE = "scene+rpa[p=0.5]"


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "bench.db")


@pytest.fixture(scope="module")
def labels():
    return make_test_set(100, ["a", "b", "c", "d"], seed=7)


def build(store, loader, **options):
    records = store.runs(status="done", latest_done_per_config=True)
    return assemble(records, ReportOptions(test_sets=loader, n_boot=200, figures=False, **options))


def table(report, selector):
    return next(t for t in report.tables if t.selector == selector)


def row(tab, label):
    return next(r for r in tab.rows if r.label == label)


def test_cells_are_mean_std_ddof1_over_seeds(store, labels):
    runs = [add_run(store, labels, "negative", SCENE, seed, 1.0, index=seed) for seed in (0, 1, 2)]
    add_run(store, labels, "ignore", SCENE, 0, 0.5, index=5)
    tab = table(build(store, Loader({"scene": labels})), SCENE)
    cell = row(tab, "negative").cells[0]
    values = [r.metrics["map_c"] for r in runs]
    assert (cell.n == 3 and cell.mean == pytest.approx(np.mean(values))
            and cell.std == pytest.approx(np.std(values, ddof=1)))
    assert cell.text() == f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f} (n=3)"
    single = row(tab, "ignore").cells[0]
    assert single.std is None and single.text().endswith("(n=1)")
    assert row(tab, "negative").runs == [r.id for r in runs]  # seed order


def test_rows_split_by_config_and_tables_by_setting(store, labels):
    add_run(store, labels, "negative", SCENE, 0, 1.0, params={"reduction": "sum"}, index=0)
    add_run(store, labels, "negative", SCENE, 0, 1.0, params={"reduction": "mean"}, index=1)
    add_run(store, labels, "negative", SCENE, 0, 1.0, params={"reduction": "sum"}, recipe={**RECIPE, "epochs": 30},
            index=2)
    report = build(store, Loader({"scene": labels}))
    scene = [t for t in report.tables if t.selector == SCENE]
    assert len(scene) == 2 and len({t.slug for t in scene}) == 2 and len({t.title for t in scene}) == 2
    split = next(t for t in scene if len(t.rows) == 2)
    assert sorted(r.label for r in split.rows) == ["negative ⟨method.params.reduction=mean⟩",
                                                    "negative ⟨method.params.reduction=sum⟩"]
    other = next(t for t in scene if len(t.rows) == 1)
    assert other.title == "scene · rpa[p=0.5] · linear, 30 epochs"  # the heading names what differs
    assert split.title == "scene · rpa[p=0.5] · linear, 5 epochs" and "recipe.epochs = 30" in other.setting


def test_best_bold_and_bootstrap_marks(store, labels):
    for seed in (0, 1, 2):
        add_run(store, labels, "strong", SCENE, seed, 2.5, index=seed)
        add_run(store, labels, "strong-twin", SCENE, seed, 2.5, plugin="strong", index=10 + seed)
        add_run(store, labels, "weak", SCENE, seed, 0.0, index=20 + seed)
    tab = table(build(store, Loader({"scene": labels})), SCENE)
    cells = {r.label: r.cells[0] for r in tab.rows}
    best = max(cells, key=lambda k: cells[k].mean)
    assert cells[best].best and sum(c.best for c in cells.values()) == 1
    twin = "strong-twin" if best == "strong" else "strong"
    assert cells[twin].tied and cells[twin].p_value >= 0.05  # same quality: indistinguishable
    assert not cells["weak"].tied and cells["weak"].p_value < 0.05
    assert tab.columns[0].test == "bootstrap"
    assert any("hierarchical bootstrap" in n and "then the 100 test images (200 resamples" in n for n in tab.footnotes)


def test_cost_columns_fit_their_units_and_are_never_bold_or_tested(store, labels):
    for seed in (0, 1, 2):
        add_run(store, labels, "cheap", SCENE, seed, 1.0, cost={"device_hours": 0.001 + 0.0001 * seed}, index=seed)
        add_run(store, labels, "dear", SCENE, seed, 1.0, cost={"device_hours": 0.002, "peak_host_mb": 900.0 + seed},
                index=10 + seed)
    tab = table(build(store, None, cost=True, significance="seeds"), SCENE)
    assert [c.key for c in tab.columns] == ["map_c", "map_o", "device_hours", "peak_host_gb"]
    assert [c.header for c in tab.columns[2:]] == ["device time (s)", "peak host memory (MiB)"]
    assert tab.columns[2].test is None and tab.columns[3].test is None  # no significance test on cost
    cheap, dear = row(tab, "cheap"), row(tab, "dear")
    assert not any(c.best or c.tied or c.untested or c.p_value is not None for r in (cheap, dear) for c in r.cells[2:]
                   if c is not None)
    assert cheap.cells[2].text() == "3.96 ± 0.36 (n=3)" and dear.cells[2].text() == "7.20 ± 0.00 (n=3)"
    assert dear.cells[3].text() == "901.0 ± 1.0 (n=3)" and cheap.cells[3] is None
    assert any(n.startswith("Cost (device time (s), peak host memory (MiB)): ") and "never bold" in n
               for n in tab.footnotes)
    assert [c.key for c in table(build(store, None), SCENE).columns] == ["map_c", "map_o"]


def test_fallbacks_say_why(store, labels):
    for seed in (0, 1, 2):
        add_run(store, labels, "a", SCENE, seed, 2.0, keep_scores=False, index=seed)
        add_run(store, labels, "b", SCENE, seed, 1.0, keep_scores=False, index=10 + seed)
    tab = table(build(store, Loader({"scene": labels})), SCENE)
    assert tab.columns[0].test == "ttest_rel"
    assert any("paired t-test across the (seed, split_seed) pairs" in n and "test scores not stored for run" in n
               for n in tab.footnotes)
    no_labels = table(build(store, Loader({})), SCENE)
    assert no_labels.columns[0].test == "ttest_rel"


def test_tampered_scores_are_not_trusted(store, labels):
    run = add_run(store, labels, "a", SCENE, 0, 2.0, index=0)
    for seed in (1, 2):
        add_run(store, labels, "a", SCENE, seed, 2.0, index=10 + seed)
    for seed in (0, 1, 2):
        add_run(store, labels, "b", SCENE, seed, 1.0, index=20 + seed)
    shifted = make_test_set(100, ["a", "b", "c", "d"], seed=8)  # other labels: scores no longer reproduce map_c
    tab = table(build(store, Loader({"scene": shifted}), significance="bootstrap"), SCENE)
    assert tab.columns[0].test == "untested"
    assert any(f"stored test scores of run {run.id[:12]} do not reproduce its recorded mAP(C)" in n
               for n in tab.footnotes)


def test_published_rows_are_never_ranked_and_carry_the_delta(store):
    lvis = make_test_set(80, ["person", "dog", "cat"], unannotated=0.3, seed=3)
    for seed in (0, 1):
        add_run(store, lvis, "ignore", "lvis", seed, 1.0, index=seed)
    tab = table(build(store, Loader({"lvis": lvis})), "lvis")
    ours = row(tab, "ignore")
    published = row(tab, "CE (Ignore) [CSL Table 4]")
    assert published.origin == REFERENCE and TEST_SELECTED in published.flags
    assert [c.mean for c in published.cells] == [74.49, 95.7, 99.81]
    assert not any(c.best or c.tied for c in published.cells)  # higher than ours, still not bold
    assert all(c.best for c in ours.cells)
    for mine, theirs in zip(ours.cells, published.cells):
        assert theirs.delta == pytest.approx(mine.mean - theirs.mean)
    assert row(tab, "WCE (Ignore) [CSL Table 4]").cells[0].delta is None  # we did not run wce
    assert "TResNet-M" in published.note and "model selection: test" in published.note
    matched = table(build(store, Loader({"lvis": lvis}), references="matched"), "lvis")
    assert [r.label for r in matched.rows if r.origin == REFERENCE] == ["CE (Ignore) [CSL Table 4]"]
    assert all(r.origin == OURS for r in table(build(store, None, references="none"), "lvis").rows)


def test_runs_selected_on_test_are_flagged(store, labels):
    add_run(store, labels, "negative", SCENE, 0, 1.0, select_on="test", index=0)
    add_run(store, labels, "negative", SCENE, 0, 1.0, index=1)
    tab = table(build(store, None), SCENE)
    flagged = [r for r in tab.rows if TEST_SELECTED in r.flags]
    assert len(flagged) == 1 and flagged[0].label == "negative ⟨select_on=test⟩"
    assert any(n.startswith("⚑ model selected on the test set") for n in tab.footnotes)


GRID = {"tuned": {"p-asl": {"grid": {"gamma_neg": [1, 2], "likelihood_topk": [1, 5]}}}}


def _grid_runs(store, labels, validation):
    for i, ((gamma, topk), val) in enumerate(validation.items()):
        add_run(store, labels, f"p-asl[gamma_neg={gamma},likelihood_topk={topk}]", SCENE, 0, 1.0 + gamma * 0.1,
                plugin="p-asl", params={"gamma_neg": gamma, "likelihood_topk": topk}, val_score=val, index=i)


def test_tuned_row_is_chosen_on_validation_and_hides_its_grid(store, labels):
    _grid_runs(store, labels, {(1, 1): 50.0, (1, 5): 58.0, (2, 1): 55.0, (2, 5): 52.0})
    add_run(store, labels, "p-asl[gamma_neg=2,likelihood_topk=5]", SCENE, 1, 9.0, plugin="p-asl",
            params={"gamma_neg": 2, "likelihood_topk": 5}, select_on="test", val_score=99.0, index=9)
    add_run(store, labels, "ignore", SCENE, 0, 0.5, index=10)
    tab = table(build(store, None, tuning=GRID), SCENE)
    tuned = row(tab, "p-asl (tuned)")
    assert tuned.origin == TUNED
    chosen = store.runs(method="p-asl[gamma_neg=1,likelihood_topk=5]")[0]
    assert tuned.runs == [chosen.id] and tuned.cells[0].mean == pytest.approx(chosen.metrics["map_c"])
    assert "gamma_neg ∈ {1, 2} × likelihood_topk ∈ {1, 5}" in tuned.note and "4 of 4 grid configurations" in tuned.note
    labels_shown = [r.label for r in tab.rows]
    assert "ignore" in labels_shown and not any(label.startswith("p-asl[gamma_neg=1") for label in labels_shown)
    assert "p-asl[gamma_neg=2,likelihood_topk=5] ⟨select_on=test⟩" in labels_shown  # never a candidate, still shown


def test_unequal_budgets_are_flagged(store, labels):
    _grid_runs(store, labels, {(1, 1): 50.0, (2, 1): 55.0})
    add_run(store, labels, "ll-r[delta_rel=0.1]", SCENE, 0, 1.0, plugin="ll-r", params={"delta_rel": 0.1}, index=20)
    spec = {"tuned": {**GRID["tuned"], "ll-r": {"grid": {"delta_rel": [0.1, 0.2]}}}}
    tab = table(build(store, None, tuning=spec), SCENE)
    assert {r.label for r in tab.rows} == {"p-asl (tuned)", "ll-r (tuned)"}
    assert any("Tuning budgets differ between families: p-asl 2; ll-r 1 configurations." in n for n in tab.footnotes)


def test_tuning_spec_errors(tmp_path):
    with pytest.raises(TuningError, match="top-level 'tuned:'"):
        load_tuning({"grid": {}})
    path = tmp_path / "t.yaml"
    path.write_text("tuned:\n  p-asl:\n    grid: {gamma_neg: []}\n")
    with pytest.raises(TuningError, match=r"t\.yaml: family 'p-asl' needs 'grid:'"):
        load_tuning(path)


def _summary_runs(store, quality, seeds=(0, 1), recipe=None, start=0):
    sets = {name: make_test_set(90, ["a", "b", "c"], seed=i) for i, name in enumerate(quality)}
    i = start
    for name, methods in quality.items():
        for method, q in methods.items():
            for seed in seeds:
                add_run(store, sets[name], method, f"{name}+rpa[p=0.5]", seed, q, recipe=recipe, index=i)
                i += 1
    return sets, i


def test_cross_dataset_summary_by_hand(store):
    quality = {"scene": {"w": 3.0, "x": 2.0, "y": 1.0, "z": 0.2}, "coco": {"x": 0.1, "y": 2.5, "z": 1.0},
               "lvis": {"x": 1.0, "y": 1.1, "z": 3.0}}
    sets, i = _summary_runs(store, quality)
    add_run(store, sets["coco"], "v", "coco+rpa[p=0.5]", 0, 0.3, index=i)  # n = 1: never ranked
    add_run(store, sets["coco"], "x", "coco+rpa[p=0.5]", 0, 9.0, select_on="test", index=i + 1)
    add_run(store, sets["coco"], "x", "coco+rpa[p=0.5]", 1, 9.0, select_on="test", index=i + 2)
    _summary_runs(store, {"scene": {"x": 1.0, "y": 2.0}}, recipe={**RECIPE, "epochs": 30}, start=i + 3)
    report = build(store, None, significance="off")
    assert len(report.summaries) == 1  # the 30-epoch recipe has one table: no summary of its own
    summary = report.summaries[0]
    ranked = {"x", "y", "z"}  # w is only in scene; v has n = 1; the test-selected x row never counts
    means = {t.selector: {r.label: r.cells[0].mean for r in t.rows if r.label in ranked}
             for t in report.tables if "recipe.epochs = 30" not in t.setting}
    assert set(means) == {"scene+rpa[p=0.5]", "coco+rpa[p=0.5]", "lvis+rpa[p=0.5]"}
    ranks, wins = {}, {}
    for scores in means.values():
        names = sorted(scores)
        for n, rank in zip(names, rankdata([-scores[n] for n in names])):
            ranks.setdefault(n, []).append(rank)
            wins[n] = wins.get(n, 0) + sum(scores[n] > scores[m] for m in names if m != n)
    values = {r.label: [c.mean for c in r.cells] for r in summary.rows}
    assert set(values) == ranked
    for n in ranked:
        assert values[n] == pytest.approx([3, np.mean(ranks[n]), wins[n] / 6])
    assert [r.label for r in summary.rows][0] == min(ranks, key=lambda n: (np.mean(ranks[n]), n))
    assert "of the 3 methods that each of these 3 leaderboard tables" in summary.caption[0]
    assert "1 other table left out" in summary.caption[0] and "recipe.epochs = 5" in summary.setting
    assert summary.title == "Cross-dataset summary · linear, 5 epochs"
    coco = table(report, "coco+rpa[p=0.5]")
    flagged = next(r for r in coco.rows if TEST_SELECTED in r.flags)
    assert flagged.cells[0].mean > max(r.cells[0].mean for r in coco.rows if r is not flagged)
    assert not any(c.best or c.tied or c.untested for c in flagged.cells)  # shown, flagged, never ranked


def test_summary_needs_two_runs_and_two_tables(store):
    _summary_runs(store, {"scene": {"x": 2.0, "y": 1.0}, "coco": {"x": 0.1, "y": 2.5}}, seeds=(0,))
    assert build(store, None, significance="off").summaries == []  # n = 1 everywhere


def test_one_summary_per_recipe(store):
    _, i = _summary_runs(store, {"scene": {"x": 2.0, "y": 1.0}, "coco": {"x": 0.1, "y": 2.5}})
    _summary_runs(store, {"scene": {"x": 1.0, "y": 2.0}, "coco": {"x": 1.0, "y": 2.0}},
                  recipe={**RECIPE, "epochs": 30}, start=i)
    summaries = build(store, None, significance="off").summaries
    assert [s.slug for s in summaries] == ["summary", "summary-2"]
    assert all(len(s.rows) == 2 and s.rows[0].cells[0].mean == 2 for s in summaries)
    assert sorted("recipe.epochs = 30" in s.setting for s in summaries) == [False, True]
    assert sorted(s.title for s in summaries) == ["Cross-dataset summary · linear, 30 epochs",
                                                  "Cross-dataset summary · linear, 5 epochs"]


def test_summary_method_set_choice():
    a, b, c, d = "abcd"
    sets = [frozenset({a, b, c}), frozenset({a, b}), frozenset({a, b, d}), frozenset({c, d})]
    assert choose_methods(sets) == {a, b}  # in 3 tables; {a, b, c} and {a, b, d} in one each
    assert choose_methods([frozenset({a, b, c}), frozenset({a, b, c}), frozenset({a, b})]) == {a, b}
    assert choose_methods([frozenset({a, b, c}), frozenset({a, b, c})]) == {a, b, c}  # larger set on ties
    assert choose_methods([frozenset({a, b}), frozenset({c, d})]) is None  # no set held by two tables


def test_default_loader_says_why_test_labels_are_missing(store, labels, tmp_path):
    dataset = f"coco[root={tmp_path / 'absent'}]+fpc[n_s=10]"
    for seed in (0, 1, 2):
        add_run(store, labels, "a", dataset, seed, 2.0, index=seed)
        add_run(store, labels, "b", dataset, seed, 1.0, index=10 + seed)
    records = store.runs(status="done", latest_done_per_config=True)
    tab = assemble(records, ReportOptions(n_boot=50, figures=False)).tables[0]  # DatasetTestSets
    assert tab.columns[0].test == "ttest_rel"
    note = next(n for n in tab.footnotes if "paired t-test" in n)
    assert f"test labels of '{dataset}' not available (" in note and "absent" in note
