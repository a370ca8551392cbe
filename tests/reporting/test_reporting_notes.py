"""Run notes (``extra["notes"]``) beside their rows, once per table, in Markdown and HTML; diagnostics
summaries (``extra["diagnostics"][name]["summary"]``) on the run pages."""
from __future__ import annotations

import re

import pytest
from test_reporting_factory import add_run, make_test_set

from bench.reporting import build_report
from bench.store import Store

SCENE = "scene+rpa[p=0.5]"
DEGENERATE = "selective degenerated: Omega_P covers every class, so it equals ignore with focusing"
RANDOM = "backbone started from random weights"
SUMMARY = "selective: Omega_P 100.0%, Omega_L 12.3%, union 100.0% of un-annotated training entries; 6/6 classes"


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "bench.db")
    labels = make_test_set(60, ["a", "b", "c"], seed=3)
    diagnostics = {"selective": {"omega_p": 1.0, "summary": SUMMARY}}
    for seed in (0, 1):
        add_run(store, labels, "selective", SCENE, seed, 1.0, index=seed,
                extra={"notes": [DEGENERATE, RANDOM] if seed == 0 else [DEGENERATE], "diagnostics": diagnostics})
        add_run(store, labels, "negative", SCENE, seed, 1.2, index=10 + seed, extra={"notes": [RANDOM]})
        add_run(store, labels, "ignore", SCENE, seed, 0.8, index=20 + seed)
    add_run(store, labels, "<b>odd</b>", SCENE, 0, 0.5, plugin="ignore", index=30,
            extra={"notes": ["a | pipe and <tag> & more\nsecond line"]})
    add_run(store, labels, "selective", "scene+rpa[p=0.2]", 0, 1.0, index=40, extra={"notes": [DEGENERATE]})
    return store


def _section(text: str, title: str) -> str:
    return text.split(f"## {title}\n")[1].split("\n## ")[0]


def test_markdown_marks_rows_and_lists_each_note_once_per_table(store):
    text = build_report(store, significance="off")
    table = _section(text, "scene · rpa[p=0.5] · linear, 5 epochs")
    # numbered in row order (rows sorted by label), each row listing its runs' notes in run order
    assert "| &lt;b&gt;odd&lt;/b&gt; [1] |" in table and "| ignore |" in table
    assert "| negative [2] |" in table and "| selective [3][2] |" in table
    assert table.count(DEGENERATE) == 1 and table.count(RANDOM) == 1  # de-duplicated within the table
    assert f"- [2] {RANDOM}\n" in table and f"- [3] {DEGENERATE}\n" in table
    assert "- [1] a \\| pipe and &lt;tag&gt; &amp; more second line\n" in table  # one line, escaped
    assert f"Diagnostics:\n\n- selective: {SUMMARY}\n\n" in table  # row label, then the line, prefixed once
    other = _section(text, "scene · rpa[p=0.2] · linear, 5 epochs")
    assert "| selective [1] |" in other and f"- [1] {DEGENERATE}\n" in other  # numbered per table


def test_html_shows_notes_beside_rows_and_diagnostics_on_run_pages(store, tmp_path):
    index = build_report(store, fmt="html", out=tmp_path / "site", significance="off")
    html = index.read_text(encoding="utf-8")
    board = html.split('id="scene-rpa-p-0-5"')[1].split("</section>")[0]
    row = re.search(r'<tr class="ours">\s*<td class="label"><span class="name">selective</span>.*?</tr>', board,
                    re.S).group(0)
    marks = f'<sup class="run-note" title="{DEGENERATE}">[3]</sup><sup class="run-note" title="{RANDOM}">[2]</sup>'
    assert marks in row
    assert f'<span class="run-note">{DEGENERATE}</span>' in row  # inline, in the Notes column
    assert f'<span class="diagnostic">{SUMMARY}</span>' in row  # its name once
    assert board.count(f"<li>[3] {DEGENERATE}</li>") == 1
    assert "a | pipe and &lt;tag&gt; &amp; more second line" in board and "<tag>" not in board
    selective = [r for r in store.runs() if r.method == "selective" and r.dataset == SCENE][0]
    page = (tmp_path / "site" / "runs" / f"{selective.id}.html").read_text(encoding="utf-8")
    line = SUMMARY.removeprefix("selective: ")
    assert "<h2>Diagnostics</h2>" in page and f"<dt>selective</dt><dd>{line}</dd>" in page
    assert f'<li class="run-note">{DEGENERATE}</li>' in page


def test_clean_validation_and_random_weights_are_marked(tmp_path):
    store = Store(tmp_path / "bench.db")
    labels = make_test_set(60, ["a", "b", "c"], seed=3)
    note = "backbone resnet18 started from random weights (no pretrained checkpoint): expect near-chance mAP"
    for seed in (0, 1):
        run = add_run(store, labels, "negative", SCENE, seed, 1.2, index=seed, extra={"notes": [note]},
                      val_labels="clean")
        add_run(store, labels, "ignore", SCENE, seed, 0.8, index=10 + seed, val_labels="partial")
    text = build_report(store, significance="off", references="none")
    # validation labels are part of the setting: the two tables' headings say which is which
    table = _section(text, "scene · rpa[p=0.5] · linear, 5 epochs, split.val_labels=clean")
    assert "| negative ◇ [1] |" in table
    assert "| ignore |" in _section(text, "scene · rpa[p=0.5] · linear, 5 epochs, split.val_labels=partial")
    assert "- ◇ model selected on clean (fully annotated) validation labels" in table
    assert f"- [1] {note}\n" in table  # the random-weights note, numbered beside the row
    html = build_report(store, fmt="html", out=tmp_path / "site", significance="off", references="none").read_text()
    assert '<span class="flag clean-val" title="model selected on clean validation labels">◇</span>' in html
    page = (tmp_path / "site" / "runs" / f"{run.id}.html").read_text(encoding="utf-8")
    assert "clean: the model was selected on fully annotated validation labels" in page
    assert f'<li class="run-note">{note}</li>' in page
