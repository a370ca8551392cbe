"""Main leaderboards per dataset family (methods x settings, best bold, published rows in their own
block with their source) and readable headings (what differs; the full setting in <details> / a
footnote)."""
from __future__ import annotations

import pytest
from test_reporting_factory import RECIPE, Loader, add_run, make_test_set

from bench.reporting import ReportOptions, assemble, build_report
from bench.reporting.model import REFERENCE, TEST_SELECTED
from bench.store import Store

REFERENCES = """
metrics: {mAP: map_c}
datasets:
- published: {dataset: coco2014, protocol: coco_fpc}
  bench: {dataset: coco, protocol: fpc, param: n_s}
results:
- {citation: csl2022, reported_in: csl2022, source: "CSL README", table: "CSL README", dataset: coco2014,
   protocol: coco_fpc, protocol_param: 1000, method: negative, method_label: Negative, bench_method: negative,
   backbone: TResNet-M, input_size: 448, pretraining: ImageNet-21K, selection: test, metric: mAP, value: 81.24,
   status: verified_primary}
- {citation: ll2022, reported_in: ll2022, source: "LL Table 9", table: "LL Table 9", dataset: coco2014,
   protocol: coco_fpc, protocol_param: 1000, method: an, method_label: AN, bench_method: null,
   backbone: ResNet-50, input_size: 448, pretraining: ImageNet-1k, selection: val, metric: mAP, value: 70.5,
   status: verified_secondary}
"""
SETTINGS = ("scene+rpa[p=0.5]", "scene+rpa[p=0.1]", "scene+single-positive", "scene+fpc[n_s=50]")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("boards") / "bench.db")
    scene = make_test_set(80, ["a", "b", "c", "d"], seed=5)
    coco = make_test_set(80, [f"c{i}" for i in range(5)], seed=6)
    n = 0
    for dataset in SETTINGS:
        for method, quality in (("ignore", 0.5), ("negative", 1.0 + 0.3 * SETTINGS.index(dataset))):
            for seed in (0, 1, 2):
                add_run(store, scene, method, dataset, seed, quality, index=n)
                n += 1
    add_run(store, scene, "negative", "scene+rpa[p=0.5]", 0, 3.0, select_on="test", index=n)
    add_run(store, scene, "ignore", "scene+rpa[p=0.5]", 0, 0.4, recipe={**RECIPE, "epochs": 30}, index=n + 1)
    for i, (method, seed) in enumerate((("negative", 0), ("negative", 1), ("ignore", 0), ("ignore", 1))):
        add_run(store, coco, method, "coco+fpc[n_s=1000]", seed, 1.0 if method == "negative" else 0.5, index=n + 2 + i)
    references = tmp_path_factory.mktemp("refs") / "references.yaml"
    references.write_text(REFERENCES, encoding="utf-8")
    return store, Loader({"scene": scene, "coco": coco}), references


def _report(scenario, **options):
    store, loader, references = scenario
    records = store.runs(status="done", latest_done_per_config=True)
    return assemble(records, ReportOptions(test_sets=loader, n_boot=100, figures=False, references_path=references,
                                           **options))


def test_one_board_per_family_methods_as_rows_settings_as_columns(scenario):
    report = _report(scenario)
    assert [b.title for b in report.boards] == ["coco: main leaderboard", "scene: main leaderboard"]
    board = report.boards[1]
    headers = [c.header for c in board.columns]
    # five settings; protocols ordered by their parameters as numbers; the recipe named where it differs
    assert headers == ["fpc[n_s=50] · linear, 5 epochs", "rpa[p=0.1] · linear, 5 epochs",
                       "rpa[p=0.5] · linear, 30 epochs", "rpa[p=0.5] · linear, 5 epochs",
                       "single-positive · linear, 5 epochs"]
    details = {t.slug: t for t in report.tables}
    assert all(c.key in details for c in board.columns)  # each column is a detail table, linked by slug
    labels = [r.label for r in board.rows]
    assert labels == ["ignore", "negative", "negative ⟨select_on=test⟩"]
    negative = board.rows[1]
    for column, cell in zip(board.columns, negative.cells):
        detail = details[column.key]
        source = next((r for r in detail.rows if r.label == "negative"), None)
        if source is None:
            assert cell is None
            continue
        assert cell.text() == source.cells[0].text() and cell.best == source.cells[0].best  # mean ± std (n)
        assert cell.n == 3 and cell.best  # negative beats ignore everywhere it ran
    flagged = board.rows[2]
    assert TEST_SELECTED in flagged.flags and not any(c.best for c in flagged.cells if c is not None)
    ignore = board.rows[0]
    assert ignore.cells[2].best and ignore.cells[2].n == 1  # alone in its 30-epoch table


def test_published_rows_in_their_own_block_with_their_source(scenario):
    board = _report(scenario).boards[0]
    assert [c.header for c in board.columns] == ["fpc[n_s=1000]"]
    assert [(r.label, r.origin) for r in board.rows] == [
        ("ignore", "ours"), ("negative", "ours"), ("Negative [CSL README]", REFERENCE), ("AN [LL Table 9]", REFERENCE)]
    assert [r.note.split(",")[0] for r in board.rows[2:]] == ["csl2022", "ll2022"]  # the source beside the row
    assert not any(c.best for r in board.rows[2:] for c in r.cells) and board.rows[1].cells[0].best
    store, loader, references = scenario
    text = build_report(store, datasets=["coco"], test_sets=loader, n_boot=100, references_path=references)
    block = text.split("## coco: main leaderboard\n")[1].split("\n## ")[0]
    assert "| Method | fpc[n_s=1000] |\n" in block
    assert "Published results:\n\n| Method | fpc[n_s=1000] | Source |" in block
    assert "| *Negative [CSL README]* ⚑ | 81.24 (Δ " in block and "| csl2022, CSL README; TResNet-M, 448px" in block
    assert "| *AN [LL Table 9]* | 70.50 | ll2022, LL Table 9;" in block
    assert text.index("## coco: main leaderboard") < text.index("## coco · fpc[n_s=1000] · linear, 5 epochs")


def test_headings_name_what_differs_and_the_setting_is_a_footnote(scenario):
    store, loader, _ = scenario
    text = build_report(store, test_sets=loader, n_boot=100, datasets=["scene"], references="none")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert len(headings) == len(set(headings))  # no heading repeats
    assert {"## scene · rpa[p=0.5] · linear, 5 epochs", "## scene · rpa[p=0.5] · linear, 30 epochs"} <= set(headings)
    assert "## scene · single-positive · linear, 5 epochs" in headings
    assert "setting:" not in text  # no multi-line dump under the heading
    section = text.split("## scene · rpa[p=0.5] · linear, 30 epochs\n")[1].split("\n## ")[0]
    assert "- Setting: evaluator = partial; mode = linear; recipe.batch_size = 64; recipe.epochs = 30;" in section


def test_html_board_and_collapsed_settings(scenario, tmp_path):
    store, loader, references = scenario
    html = build_report(store, fmt="html", out=tmp_path / "site", test_sets=loader, n_boot=100,
                        references_path=references).read_text()
    board = html.split('id="board-scene"')[1].split("</section>")[0]
    assert '<th data-type="number" data-first="descending" title=' in board and '<a href="#scene-rpa-p-0-5">' in board
    assert "<details" not in board  # a board has no single setting
    detail = html.split("<h2>scene · rpa[p=0.5] · linear, 5 epochs</h2>")[1].split("</section>")[0]
    details = detail.split('<details class="setting">')[1].split("</details>")[0]
    assert "<summary>Full setting</summary>" in details and "<li><code>recipe.epochs = 5</code></li>" in details
    assert "open" not in detail.split('<details class="setting"')[1][:3]  # collapsed
    coco = html.split('id="board-coco"')[1].split("</section>")[0]
    assert '<tbody class="published">' in coco and "Published results" in coco


def test_heading_parts():
    from bench.reporting.headings import family_of, heading, setting_lines

    setting = {"mode": "finetune", "recipe.backbone": "resnet50", "recipe.image_size": 448, "recipe.epochs": 1,
               "recipe.lr": 1e-4, "method.version": "1", "bench_version": "0.1.0"}
    assert heading("coco[root=/data/coco]+fpc[n_s=1000]", setting, {}) == \
        "coco · fpc[n_s=1000] · finetune, resnet50, 448px, 1 epoch"  # the data root is not part of a heading
    assert heading("lvis", {}, {"recipe.lr": 0.01, "recipe.epochs": 3}) == "lvis · full labels · lr=0.01"
    assert setting_lines(setting) == ["mode = finetune", "recipe.backbone = resnet50", "recipe.image_size = 448",
                                      "recipe.epochs = 1", "recipe.lr = 0.0001"]
    assert [family_of(d) for d in ("coco-mini", "openimages-v3", "scene")] == ["coco", "openimages", "scene"]
