"""The HTML site: autoescaping, self-containment (works offline from file://), run pages, figures."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from test_reporting_factory import Loader, add_run, make_test_set, paper_scenario

from bench.reporting import build_report
from bench.store import Store

EVIL = "<script>alert(1)</script>"


class Tags(HTMLParser):
    """Collects (tag, attrs) and text of a page."""

    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(path):
    tags = Tags()
    tags.feed(path.read_text(encoding="utf-8"))
    return tags


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    store = Store(root / "bench.db")
    loader = paper_scenario(store)
    index = build_report(store, fmt="html", out=root / "site", test_sets=loader, n_boot=100, cost=True)
    return store, index


def test_a_method_named_script_renders_as_text(site):
    store, index = site
    html = index.read_text(encoding="utf-8")
    assert EVIL not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    scripts = [t for t, _ in parse(index).tags if t == "script"]
    assert len(scripts) == 1  # only our inline sortable/filter script
    assert EVIL in "".join(parse(index).text)  # the browser shows the name itself
    run = next(r for r in store.runs() if r.method == EVIL)
    page = index.parent / "runs" / f"{run.id}.html"
    assert EVIL not in page.read_text(encoding="utf-8") and [t for t, _ in parse(page).tags].count("script") == 1


def test_site_is_self_contained(site):
    _, index = site
    pages = [index, *sorted((index.parent / "runs").glob("*.html"))]
    assert len(pages) == 1 + 38
    for page in pages:
        tags = parse(page).tags
        for tag, attrs in tags:
            assert tag not in ("link", "iframe", "img"), (page.name, tag)
            assert "src" not in attrs, (page.name, tag)
            href = attrs.get("href", "")
            assert not re.match(r"^[a-z]+:", href), (page.name, href)  # no http:, https:, file: links
            if href and not href.startswith("#"):
                assert (page.parent / href).exists(), (page.name, href)
        assert "@import" not in page.read_text(encoding="utf-8")


def test_index_has_sortable_filterable_tables_and_inline_svg_figures(site):
    _, index = site
    tags = parse(index).tags
    tables = [a for t, a in tags if t == "table"]
    filters = [a for t, a in tags if t == "input"]
    assert all("sortable" in a["class"] for a in tables) and len(tables) == 11  # 4 main, 5 detail, sweep, summary
    assert [a["id"] for a in tables[:4]] == ["t-board-coco", "t-board-lvis", "t-board-openimages", "t-board-scene"]
    assert {f["data-table"] for f in filters} == {a["id"] for a in tables}
    assert sum(1 for t, _ in tags if t == "svg") == 4 and sum(1 for t, _ in tags if t == "figure") == 4
    html = index.read_text(encoding="utf-8")
    assert "<?xml" not in html and "http://www.w3.org/2000/svg" in html  # SVG inlined without its prolog
    cells = [a for t, a in tags if t == "td" and "data-value" in a]
    assert any(a.get("class") == "best" for a in cells) and any("tied" in (a.get("class") or "") for a in cells)


def test_run_page_shows_config_provenance_and_per_class_ap(site):
    store, index = site
    run = next(r for r in store.runs() if r.dataset == "lvis")
    page = index.parent / "runs" / f"{run.id}.html"
    text = "".join(parse(page).text)
    for expected in (run.config_hash, run.manifest_sha256, run.host, "split.split_seed", "Per-class AP", "person"):
        assert expected in text
    per_class = page.read_text(encoding="utf-8").split('id="per-class"')[1].split("</table>")[0]
    assert per_class.count("<tr") == 1 + len(run.class_names)
    ap = [v for v in run.per_class_ap if v is not None]
    assert f"{100 * ap[0]:.2f}" in text and ("excluded" in text) == (len(ap) < len(run.per_class_ap))


def test_html_needs_an_output_folder(tmp_path):
    store = Store(tmp_path / "bench.db")
    test = make_test_set(20, ["a", "b"])
    add_run(store, test, "ignore", "scene", 0, 1.0)
    with pytest.raises(ValueError, match="--out DIR"):
        build_report(store, fmt="html", test_sets=Loader({}))
    with pytest.raises(ValueError, match="format must be one of md, html"):
        build_report(store, fmt="pdf")
    with pytest.raises(TypeError, match="unknown option.*colour"):
        build_report(store, colour="red")


def test_an_empty_store_says_so(tmp_path):
    store = Store(tmp_path / "bench.db")
    assert "No finished runs to report yet" in build_report(store)
    index = build_report(store, fmt="html", out=tmp_path / "site")
    assert "No finished runs to report yet" in index.read_text(encoding="utf-8")
    assert [p.name for p in (tmp_path / "site").rglob("*") if p.is_file()] == ["index.html"]
