"""CSL Figures 6-9 drawn from whatever runs exist: which figures appear, their lines, byte stability."""
from __future__ import annotations

import pytest
from test_reporting_factory import add_run, make_test_set

from bench.reporting import ReportOptions, assemble
from bench.reporting.figures import draw
from bench.store import Store


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "bench.db")


def figures(store, fmt="png"):
    records = store.runs(status="done", latest_done_per_config=True)
    return assemble(records, ReportOptions(significance="off", references="none"), figure_format=fmt).figures


def test_drawing_is_byte_stable_and_undated():
    series = [("a", [1.0, 2.0], [50.0, 60.0], [1.0, None]), ("<b>", [1.0, 2.0], [40.0, 45.0], [None, None])]
    pngs = [draw("f", "t", "c", "x", "y", series).png for _ in range(2)]
    svgs = [draw("f", "t", "c", "x", "y", series, fmt="svg").svg for _ in range(2)]
    assert pngs[0] == pngs[1] and pngs[0][:4] == b"\x89PNG"
    assert svgs[0] == svgs[1] and "<dc:date>" not in svgs[0] and "<b>" not in svgs[0]


def test_no_runs_of_the_right_kind_no_figures(store):
    test = make_test_set(40, ["a", "b"])
    add_run(store, test, "ignore", "scene+rpa[p=0.5]", 0, 1.0)
    add_run(store, test, "negative", "scene+rpa[p=0.5]", 0, 1.0, index=1)
    assert figures(store) == []


def test_figure_6_one_line_per_method_over_the_protocol_parameter(store):
    test = make_test_set(40, ["a", "b"])
    for i, p in enumerate(("0.1", "0.5", "0.9")):
        for j, method in enumerate(("ignore", "negative")):
            add_run(store, test, method, f"scene+rpa[p={p}]", 0, 1.0, index=10 * i + j)
    add_run(store, test, "selective", "scene+rpa[p=0.5]", 0, 1.0, index=99)
    (figure,) = figures(store, fmt="svg")
    assert figure.slug == "fig6-sweep-scene-rpa" and figure.png is None
    assert figure.lines == ["ignore", "negative", "selective"] and figure.svg.startswith("<?xml")


def test_figures_7_8_9_from_extra_and_method_parameters(store):
    test = make_test_set(40, ["a", "b"])
    n = 0
    for gamma in (1, 2, 3):
        for variant in ("union", "likelihood"):
            for topk in (1, 5):
                add_run(store, test, f"p-asl[gamma_neg={gamma},likelihood_topk={topk},variant={variant}]",
                        "scene+rpa[p=0.5]", 0, 1.0 + gamma / 10, plugin="p-asl",
                        params={"gamma_neg": gamma, "likelihood_topk": topk, "variant": variant}, index=n)
                n += 1
    for seed in (0, 1):
        add_run(store, test, "selective", "scene+rpa[p=0.5]", seed, 1.0, index=50 + seed,
                extra={"artifacts": {"class_prior": {"spearman_topk": {"2": 0.5 + seed / 10, "6": 0.8}}}})
    fig7, fig8, fig9 = figures(store)
    assert fig7.slug == "fig7-prior-spearman" and fig7.lines == ["scene+rpa[p=0.5]: selective"]
    assert fig8.slug == "fig8-scene-rpa-p-0-5-gamma_neg"
    assert fig8.lines == [f"p-asl (likelihood_topk={k}, variant={v})" for k in (1, 5) for v in ("likelihood", "union")]
    assert fig9.slug == "fig9-scene-rpa-p-0-5-likelihood_topk"
    assert fig9.lines == [f"p-asl (gamma_neg={g}, variant={v})" for g in (1, 2, 3) for v in ("likelihood", "union")]


def test_legend_labels_are_short_unique_and_styles_tell_test_selection_apart():
    from bench.reporting.legend import short_labels, styles

    labels = [f"p-asl[gamma_neg={g},likelihood_topk=5,variant=union]" for g in (1, 2)] + [
              "negative", "negative ⟨select_on=test⟩", "x" * 60, "x" * 60]
    assert short_labels(labels[:3]) == ["p-asl (gamma_neg=1)", "p-asl (gamma_neg=2)", "negative"]
    short = short_labels(labels)
    assert len(set(short)) == len(short) and all(len(s) <= 51 for s in short)
    looks = styles(labels[:4], [False, False, False, True])
    assert [look.label for look in looks] == ["p-asl (gamma_neg=1)", "p-asl (gamma_neg=2)", "negative",
                                             "negative ⚑ test-selected"]
    assert len({look.colour for look in looks[:3]}) == 3  # one colour per method
    assert looks[3].colour == looks[2].colour and (looks[3].linestyle, looks[3].marker) == ("--", "x")
    assert {look.linestyle for look in looks[:3]} == {"-"}


def test_figure_6_draws_a_test_selected_row_dashed(store):
    test = make_test_set(40, ["a", "b"])
    for i, p in enumerate(("0.1", "0.5")):
        add_run(store, test, "negative", f"scene+rpa[p={p}]", 0, 1.0, index=2 * i)
        add_run(store, test, "negative", f"scene+rpa[p={p}]", 0, 1.5, select_on="test", index=2 * i + 1)
    (figure,) = figures(store, fmt="svg")
    assert sorted(figure.lines) == ["negative", "negative ⚑ test-selected"]
    assert "stroke-dasharray" in figure.svg  # the dashed line of the test-selected row
