"""The run pages' charts (``bench.reporting.charts``: SVG written directly) against the same three
charts drawn with matplotlib (``bench.reporting.figures.draw``'s route: a Figure, Agg canvas, SVG
savefig), measured in the same run. A site has one page per run (500 pages for the 500-run store of
``benchmarks/test_report_speed.py``), so the charts must cost far less than matplotlib would.
Goal: at least 20x faster. Run: ``OMP_NUM_THREADS=1 python -m pytest benchmarks/test_run_page_charts.py -s``.
"""
from __future__ import annotations

import io
from time import perf_counter

from bench.reporting.charts import bar_chart, line_chart

GOAL = 20.0
EPOCHS = list(range(1, 31))
LOSS = [250.0 / e + 80 for e in EPOCHS]
VAL = [60 + 15 * (1 - 0.8 ** e) for e in EPOCHS]
CLASSES = [f"class {i}" for i in range(20)]
AP = [40.0 + 2.5 * i for i in range(20)]


def ours() -> list[str]:
    return [line_chart("loss", "epoch", "training loss", EPOCHS, LOSS),
            line_chart("val", "epoch", "val mAP(C)", EPOCHS, VAL, mark=15),
            bar_chart("AP", "AP", CLASSES, AP)]


def matplotlib_charts() -> list[str]:
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out = []
    with matplotlib.rc_context({"svg.hashsalt": "bench-report", "font.size": 9}):
        for kind in ("loss", "val", "bar"):
            figure = Figure(figsize=(4.2, 2.2))
            FigureCanvasAgg(figure)
            axes = figure.add_subplot()
            if kind == "bar":
                axes.bar(range(len(AP)), AP)
                axes.set_xticks(range(len(AP)), CLASSES, rotation=40, fontsize=7)
            else:
                axes.plot(EPOCHS, LOSS if kind == "loss" else VAL, marker="o")
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg", metadata={"Date": None})
            out.append(buffer.getvalue())
    return out


def _best(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = perf_counter()
        fn()
        times.append(perf_counter() - start)
    return min(times)


def test_run_page_charts_against_matplotlib(benchmark, capsys):
    matplotlib_charts()  # imports and font cache outside the timing
    baseline = _best(matplotlib_charts, 5)
    svgs = benchmark(ours)
    assert all(svg.startswith("<svg") for svg in svgs)
    mine = _best(ours, 20)
    ratio = baseline / mine
    benchmark.extra_info.update(matplotlib_s=baseline, charts_s=mine, ratio=ratio)
    with capsys.disabled():
        print(f"\nrun-page charts: {mine * 1e3:.2f} ms, matplotlib {baseline * 1e3:.1f} ms ({ratio:.0f}x faster)")
    assert ratio >= GOAL
