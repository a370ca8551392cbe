"""Run pages: loss and validation mAP curves from extra["history"], the per-class AP bar chart,
configuration / timings / cost as tables with fitting units, the reproduce command; and the
per-setting page comparing per-class AP across methods."""
from __future__ import annotations

import re

import pytest
from test_reporting_factory import add_run, make_test_set

from bench.reporting import build_report
from bench.reporting.charts import bar_chart, line_chart
from bench.reporting.run_pages import cost_rows, timing_rows
from bench.store import Store

SCENE = "scene+rpa[p=0.5]"
HISTORY = [{"epoch": e, "loss": 10.0 / e, "seconds": 0.1, "val_map_c": 50.0 + e} for e in range(1, 6)]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("runpages")
    store = Store(root / "bench.db")
    test = make_test_set(60, ["beach", "sunset", "<field>"], seed=9)
    for seed in (0, 1):
        add_run(store, test, "negative", SCENE, seed, 1.5, index=seed, extra={"history": HISTORY})
        add_run(store, test, "ignore", SCENE, seed, 0.5, index=10 + seed)
    add_run(store, test, "negative", SCENE, 0, 3.0, select_on="test", index=20)
    index = build_report(store, fmt="html", out=root / "site", significance="off", references="none")
    return store, index


def _page(site, method, seed=0):
    store, index = site
    run = next(r for r in store.runs() if r.method == method and r.seed == seed and r.selection["policy"] == "val")
    return run, (index.parent / "runs" / f"{run.id}.html").read_text(encoding="utf-8")


def test_curves_from_the_history_with_the_selected_epoch(site):
    run, html = _page(site, "negative")
    curves = re.findall(r'<figure class="chart curve"><svg .*?</svg>', html, re.S)
    assert len(curves) == 2 and "Training loss per epoch" in curves[0] and "Validation mAP(C)" in curves[1]
    points = re.search(r'<polyline [^>]*points="([^"]+)"', curves[0]).group(1).split()
    assert len(points) == len(HISTORY)
    ys = [float(p.split(",")[1]) for p in points]
    assert ys == sorted(ys)  # the loss falls: SVG y grows downwards
    assert 'class="selected"' in curves[1] and 'class="selected"' not in curves[0]  # epoch 5 selected, dashed
    _, without = _page(site, "ignore")
    assert "chart curve" not in without and "Training curves" not in without  # no history, no curves


def test_per_class_bar_chart_and_tables_not_json(site):
    run, html = _page(site, "negative")
    chart = re.search(r'<figure class="chart classes">(.*?)</figure>', html, re.S).group(1)
    assert chart.count('<rect class="bar"') == 3 and "&lt;field&gt;" in chart and "<field>" not in chart
    ap = 100 * run.per_class_ap[0]
    assert f"<title>beach: {ap:.2f}</title>" in chart
    config = html.split('id="configuration"')[1].split("</table>")[0]
    assert "<th scope=\"row\">recipe.epochs</th><td class=\"text\">5</td>" in config
    assert '<th scope="row">method.name</th><td class="text">negative</td>' in config
    timings = html.split('id="timings"')[1].split("</table>")[0]
    assert "<th scope=\"row\">train</th><td>10.0 s</td>" in timings
    cost = html.split('id="cost"')[1].split("</table>")[0]
    assert "<th scope=\"row\">device time</th><td>15.0 min</td>" in cost
    assert "<th scope=\"row\">peak host memory</th><td>2.00 GiB</td>" in cost
    assert "<h2>Timings and cost</h2>\n<pre>" not in html and '"split_seed": 0' not in html.split("<details")[0]


def test_reproduce_command_on_the_page(site):
    run, html = _page(site, "negative", seed=1)
    line = re.search(r'<pre class="reproduce"><code>(.*?)</code></pre>', html).group(1)
    assert line.startswith("bench run --method negative --dataset &#39;scene+rpa[p=0.5]&#39; --seed 1 --split-seed 0 "
                           "--mode linear --recipe ")
    assert "--set epochs=5" in line  # the factory's recipe differs from the shipped one


def test_units_fit_the_values():
    class Run:
        timings = {"train_s": 0.42, "wall_s": 5400.0, "extract_s": 90.0}
        cost = {"device_hours": 2.5, "peak_host_mb": 512.0, "peak_cuda_mb": 30_000.0, "device": "cuda"}

    assert timing_rows(Run) == [("extract", "1.50 min"), ("train", "0.420 s"), ("wall", "1.50 h")]
    assert cost_rows(Run) == [("device time", "2.50 h"), ("peak host memory", "512.0 MiB"),
                              ("peak CUDA memory", "29.3 GiB"), ("device", "cuda")]


def test_charts_escape_text_and_skip_missing_values():
    svg = line_chart("<t>", "x", "y", [1, 2, 3], [1.0, None, 3.0])
    assert "<t>" not in svg and "&lt;t&gt;" in svg and svg.count("<circle") == 2
    assert line_chart("t", "x", "y", [1], [None]) == "" and bar_chart("t", "y", ["a"], [None]) == ""


def test_per_setting_page_compares_per_class_ap_across_methods(site):
    store, index = site
    html = index.read_text(encoding="utf-8")
    link = re.search(r'<a href="(settings/[^"]+\.html)">Per-class AP of every method in this setting</a>', html)
    link = link.group(1)
    page = (index.parent / link).read_text(encoding="utf-8")
    head = page.split("<thead>")[1].split("</thead>")[0]
    headers = [re.sub(r"<.*?>", "", h).strip() for h in re.findall(r"<th .*?</th>", head, re.S)]
    assert headers[0] == "class" and sorted(headers[1:]) == ["ignore", "negative", "negative ⟨select_on=test⟩ ⚑"]
    assert 'class="sortable" id="classes"' in page and "<script>" in page
    runs = [r for r in store.runs() if r.method == "negative" and r.selection["policy"] == "val"]
    mean = 100 * sum(r.per_class_ap[1] for r in runs) / 2
    row = page.split("<td class=\"text\">sunset</td>")[1].split("</tr>")[0]
    values = re.findall(r'data-value="([^"]*)"', row)
    assert float(values[headers.index("negative") - 1]) == pytest.approx(mean)
    best = re.findall(r'<td data-value="[^"]*"( class="best")?>', row)
    assert best[headers.index("negative ⟨select_on=test⟩ ⚑") - 1] == ""  # a test-selected row is never bold
    assert best.count(' class="best"') == 1
    assert "&lt;field&gt;" in page


def test_finetune_histories_get_one_curve_per_monitored_variant():
    from types import SimpleNamespace

    from bench.reporting.run_pages import history_charts

    history = [{"epoch": e, "loss": 1.0 / e, "images_per_s": 90.0, "val_map_c_raw": 50.0 + e, "val_map_c_ema": 49.0 + e}
               for e in (1, 2, 3)]
    record = SimpleNamespace(extra={"history": history}, selection={"epoch": 3})
    captions = [caption for caption, _ in history_charts(record)]
    assert captions == ["Training loss per epoch", "Validation mAP(C) (ema) per epoch (dashed: the selected epoch)",
                        "Validation mAP(C) (raw) per epoch (dashed: the selected epoch)"]
    assert history_charts(SimpleNamespace(extra={}, selection={})) == []
