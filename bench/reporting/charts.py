"""Small inline SVG charts for the run pages: a line chart per epoch and a per-class AP bar chart.

Written as SVG text directly rather than through matplotlib: a site has one page per run, and
drawing three matplotlib figures per page costs far more than the page itself
(``benchmarks/test_run_page_charts.py`` measures the ratio). Every text is escaped; the output is
deterministic (coordinates rounded to 0.1 px).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

WIDTH, HEIGHT = 420, 220
MARGIN = (46, 12, 18, 34)  # left, right, top, bottom
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def _ticks(low: float, high: float, count: int = 5, integer: bool = False) -> list[float]:
    """About ``count`` round tick values covering [low, high] (whole numbers only if ``integer``)."""
    if high <= low:
        return [low]
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if step * m >= raw)
    if integer:
        step = max(1.0, round(step))
    first = math.ceil(low / step) * step
    return [round(first + i * step, 10) for i in range(int((high - first) / step + 1e-9) + 1)]


def _frame(title: str, xlabel: str, ylabel: str, xs: tuple[float, float], ys: tuple[float, float],
           body: Callable[[Callable, Callable], list[str]]) -> str:
    """The axes, grid and labels of a chart; ``body(px, py)`` draws its marks (data -> pixel maps)."""
    left, right, top, bottom = MARGIN
    px = lambda x: left + (x - xs[0]) / ((xs[1] - xs[0]) or 1) * (WIDTH - left - right)  # noqa: E731
    py = lambda y: HEIGHT - bottom - (y - ys[0]) / ((ys[1] - ys[0]) or 1) * (HEIGHT - top - bottom)  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>',
             f'<rect x="{left}" y="{top}" width="{WIDTH - left - right}" height="{HEIGHT - top - bottom}" '
             'fill="none" stroke="#c8ced8"/>']
    for y in _ticks(*ys):
        parts.append(f'<line x1="{left}" x2="{WIDTH - right}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#eef1f6"/>'
                     f'<text x="{left - 4}" y="{py(y) + 3:.1f}" font-size="9" text-anchor="end">{y:g}</text>')
    parts += [f'<text x="{(left + WIDTH - right) / 2}" y="{HEIGHT - 4}" font-size="10" text-anchor="middle">'
              f'{escape(xlabel)}</text>',
              f'<text x="10" y="{(top + HEIGHT - bottom) / 2}" font-size="10" text-anchor="middle" '
              f'transform="rotate(-90 10 {(top + HEIGHT - bottom) / 2})">{escape(ylabel)}</text>']
    parts += body(px, py)
    parts.append("</svg>")
    return "".join(parts)


def line_chart(title: str, xlabel: str, ylabel: str, xs: Sequence[float], ys: Sequence[float | None],
               mark: float | None = None) -> str:
    """A line of ``ys`` over ``xs`` (None values skipped); ``mark``: an x drawn as a dashed line
    (the selected epoch)."""
    points = [(float(x), float(y)) for x, y in zip(xs, ys) if y is not None and math.isfinite(y)]
    if not points:
        return ""
    x_range = (min(p[0] for p in points), max(p[0] for p in points))
    low, high = min(p[1] for p in points), max(p[1] for p in points)
    pad = (high - low) * 0.05 or abs(high) * 0.05 or 1.0
    y_range = (low - pad, high + pad)

    def body(px, py):
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        out = [f'<polyline fill="none" stroke="{COLOURS[0]}" stroke-width="1.6" points="{path}"/>']
        out += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2" fill="{COLOURS[0]}"/>' for x, y in points]
        if mark is not None and x_range[0] <= mark <= x_range[1]:
            out.append(f'<line class="selected" x1="{px(mark):.1f}" x2="{px(mark):.1f}" y1="{MARGIN[2]}" '
                       f'y2="{HEIGHT - MARGIN[3]}" stroke="{COLOURS[3]}" stroke-dasharray="4 3"/>')
        for x in _ticks(*x_range, integer=all(x.is_integer() for x, _ in points)):
            out.append(f'<text x="{px(x):.1f}" y="{HEIGHT - MARGIN[3] + 12}" font-size="9" '
                       f'text-anchor="middle">{x:g}</text>')
        return out

    return _frame(title, xlabel, ylabel, x_range, y_range, body)


def bar_chart(title: str, ylabel: str, names: Sequence[str], values: Sequence[float | None]) -> str:
    """One bar per class (AP on 0-100); a class without a value is drawn as an empty slot."""
    if not any(v is not None for v in values):
        return ""
    count = len(names)

    def body(px, py):
        out = []
        width = (WIDTH - MARGIN[0] - MARGIN[1]) / count
        for i, (name, value) in enumerate(zip(names, values)):
            x = MARGIN[0] + i * width
            label = f"{name}: {'excluded' if value is None else f'{value:.2f}'}"
            if value is not None:
                out.append(f'<rect class="bar" x="{x + width * 0.1:.1f}" y="{py(value):.1f}" '
                           f'width="{width * 0.8:.1f}" height="{py(0) - py(value):.1f}" fill="{COLOURS[0]}">'
                           f'<title>{escape(label)}</title></rect>')
            if count <= 40:
                out.append(f'<text x="{x + width / 2:.1f}" y="{HEIGHT - MARGIN[3] + 10}" font-size="8" '
                           f'text-anchor="end" transform="rotate(-40 {x + width / 2:.1f} '
                           f'{HEIGHT - MARGIN[3] + 10})">{escape(name[:12])}</text>')
        return out

    return _frame(title, "", ylabel, (0.0, 1.0), (0.0, 100.0), body)
