"""Golden Markdown reports and byte-for-byte determinism.

Regenerate the golden files after an intended change with
``BENCH_UPDATE_GOLDEN=1 python -m pytest -q tests/reporting/test_reporting_golden.py`` and review the diff.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_reporting_factory import paper_scenario

from bench.reporting import ReportOptions, assemble, build_report
from bench.reporting.markdown import render_markdown
from bench.store import Store

GOLDEN = Path(__file__).parent / "golden"
TUNING = {"tuned": {"p-asl": {"grid": {"gamma_neg": [1, 2, 4], "likelihood_topk": [1, 5]},
                              "fixed": {"variant": "union"}}}}
OPTIONS = {"n_boot": 200, "tuning": TUNING}


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("BENCH_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with BENCH_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} differs from the golden file (BENCH_UPDATE_GOLDEN=1 regenerates)")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("golden") / "bench.db")
    return store, paper_scenario(store)


def test_paper_layouts_with_bootstrap_marks(scenario):
    store, loader = scenario
    text = build_report(store, test_sets=loader, **OPTIONS)
    check_golden("report_bootstrap.md", text)
    assert "hierarchical bootstrap of the mean paired difference" in text and "then the 160 test images" in text
    assert "| Method | Group 1 | Group 2 | Group 3 | Group 4 | Group 5 | All classes |" in text
    assert "| Method | mAP(C) | mAP(O) | Person-AP |" in text
    assert "| Method | N_s=100 | N_s=1000 |" in text


def test_seed_test_fallback_when_scores_are_not_kept(tmp_path):
    store = Store(tmp_path / "bench.db")
    loader = paper_scenario(store, keep_scores=False)
    text = build_report(store, datasets=["coco", "lvis"], test_sets=loader, references="matched", cost=True, **OPTIONS)
    check_golden("report_seed_test.md", text)
    assert "paired t-test across the (seed, split_seed) pairs both rows ran" in text
    assert "test scores not stored for run" in text
    section = text.split("## coco · fpc[n_s=1000] · linear, 5 epochs\n")[1].split("##")[0]
    assert "bootstrap" not in section.replace("bootstrap not", "")
    assert "| device time (min) | peak host memory (GiB) |" in section and "**15.6" not in section


def test_markdown_with_figures_is_identical_across_builds(scenario, tmp_path):
    store, loader = scenario
    outputs = [build_report(store, out=tmp_path / out, test_sets=loader, **OPTIONS) for out in ("a", "b/board.md")]
    assert outputs == [tmp_path / "a" / "leaderboard.md", tmp_path / "b" / "board.md"]
    files = [sorted(p.relative_to(o.parent) for p in o.parent.rglob("*") if p.is_file() and p != o) for o in outputs]
    assert files[0] == files[1] and len(files[0]) == 4  # the PNGs of CSL Figures 6-9 beside the Markdown
    assert outputs[0].read_bytes() == outputs[1].read_bytes()
    for rel in files[0]:
        assert (outputs[0].parent / rel).read_bytes() == (outputs[1].parent / rel).read_bytes(), rel
    text = outputs[0].read_text(encoding="utf-8")
    assert "![coco · fpc · mAP(C) vs N_s · linear, 5 epochs](figures/fig6-sweep-coco-fpc.png)" in text
    assert "Generated" not in text


def test_html_site_is_identical_across_builds(scenario, tmp_path):
    store, loader = scenario
    outputs = [build_report(store, fmt="html", out=tmp_path / name, test_sets=loader, **OPTIONS) for name in ("a", "b")]
    files = sorted(p.relative_to(outputs[0].parent) for p in outputs[0].parent.rglob("*") if p.is_file())
    assert len(files) == 1 + 38 + 5  # the index, the run pages, a per-class page per detail table
    for rel in files:
        assert (outputs[0].parent / rel).read_bytes() == (outputs[1].parent / rel).read_bytes(), rel


def test_report_does_not_depend_on_store_order(scenario):
    store, loader = scenario
    records = store.runs(status="done", latest_done_per_config=True)
    texts = [render_markdown(assemble(order, ReportOptions(test_sets=loader, figures=False, **OPTIONS)), None)
             for order in (records, records[::-1], records[1::2] + records[::2])]
    assert texts[0] == texts[1] == texts[2] == build_report(store, test_sets=loader, **OPTIONS)


def test_timestamp_only_when_asked(scenario):
    store, loader = scenario
    text = build_report(store, test_sets=loader, timestamp=True, significance="off", datasets=["lvis"])
    assert text.count("_Generated ") == 1
