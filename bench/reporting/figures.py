"""The CSL paper's figures, drawn from whatever runs exist (matplotlib, Agg, no pyplot state).

* Figure 6 -- mAP(C) vs N_s (FPC) / vs p (RPA), one line per method: from the protocol-sweep tables.
* Figure 7 -- Spearman of the estimated class prior vs the true class frequencies over the top-k
  most frequent classes: from runs whose class-prior provenance (``extra["artifacts"]["class_prior"]``,
  see ``bench.runs.artifacts``) holds ``spearman_topk``, k -> rho (``bench.metrics.top_k_spearman``), one
  line per (dataset, method).
* Figure 8 -- mAP(C) vs gamma- (``gamma_neg``) and Figure 9 -- mAP(C) vs K (``likelihood_topk``), e.g.
  likelihood-only vs likelihood+prior (``variant``): from runs of one table whose resolved method
  parameters differ only in that parameter, one line per remaining difference.

Points are means over seeds; bands are mean ± std where a point has two runs or more. Legends hold
short unique labels, one colour per line, test-selected lines dashed (``bench.reporting.legend``). Output is
byte-stable: SVG (for HTML) without date and with a fixed hash salt, PNG (beside Markdown) at a fixed dpi.
"""
from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

from bench.reporting.cells import cell_for
from bench.reporting.grouping import SettingGroup, seed_key, selected_on_test
from bench.reporting.legend import styles
from bench.reporting.model import TEST_SELECTED, Figure, Table
from bench.reporting.schema import Metric
from bench.reporting.tables import slug

Series = tuple  # (label, xs, means, stds[, selected on the test set])
PARAM_FIGURES = (("gamma_neg", "γ−", "CSL Figure 8"), ("likelihood_topk", "K", "CSL Figure 9"))
SPEARMAN_PATH = ("artifacts", "class_prior", "spearman_topk")


def draw(slug_text: str, title: str, caption: str, xlabel: str, ylabel: str, series: Sequence[Series],
         fmt: str = "png") -> Figure:
    """A line plot with seed bands, rendered as PNG bytes (``fmt="png"``) or SVG text (``"svg"``).
    ``series``: (label, xs, means, stds) or (label, xs, means, stds, selected on the test set)."""
    import matplotlib  # here, not at import: a report without figures never loads matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    looks = styles([s[0] for s in series], [bool(s[4]) if len(s) > 4 else False for s in series])
    labels = [look.label for look in looks]
    with matplotlib.rc_context({"svg.hashsalt": "bench-report", "font.size": 9}):
        figure = MplFigure(figsize=(5.6, 3.6))
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        for (_, xs, means, stds, *_), look in zip(series, looks):
            (line,) = axes.plot(xs, means, marker=look.marker, linestyle=look.linestyle, color=look.colour,
                                label=look.label)
            band = [(x, m, s) for x, m, s in zip(xs, means, stds) if s is not None]
            if band:
                axes.fill_between([b[0] for b in band], [b[1] - b[2] for b in band], [b[1] + b[2] for b in band],
                                  color=line.get_color(), alpha=0.2, linewidth=0)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        axes.set_title(title, fontsize=9)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
        figure.subplots_adjust(left=0.12, right=0.97, bottom=0.14, top=0.9)
        if fmt == "svg":
            svg = io.StringIO()
            figure.savefig(svg, format="svg", metadata={"Date": None})
            return Figure(slug_text, title, caption, labels, svg=svg.getvalue())
        png = io.BytesIO()
        figure.savefig(png, format="png", dpi=110, metadata={"Software": None})
    return Figure(slug_text, title, caption, labels, png=png.getvalue())


def protocol_figures(sweeps: list[Table], fmt: str = "png") -> list[Figure]:
    """CSL Figure 6 from each protocol-sweep table."""
    out = []
    for table in sweeps:
        series = []
        for row in table.rows:
            points = [(c.value, cell) for c, cell in zip(table.columns, row.cells) if cell is not None]
            if points:
                series.append((row.label, [x for x, _ in points], [c.mean for _, c in points],
                               [c.std for _, c in points], TEST_SELECTED in row.flags))
        xlabel = table.columns[0].header.split("=")[0]
        out.append(draw(f"fig6-{table.slug}", table.title,
                        "CSL Figure 6: one line per method; bands = ± std over seeds.",
                        xlabel, table.columns[0].metric.name, series, fmt))
    return out


def spearman_figure(records: Sequence[Any], fmt: str = "png") -> list[Figure]:
    """CSL Figure 7 from the runs that store top-k prior Spearman values."""
    lines: dict[str, dict[int, dict]] = {}
    flagged: set[str] = set()
    for record in records:
        topk = record.extra or {}
        for part in SPEARMAN_PATH:
            topk = topk.get(part) if isinstance(topk, dict) else None
        if not isinstance(topk, dict):
            continue
        for k, rho in topk.items():
            if isinstance(rho, (int, float)):
                label = f"{record.dataset}: {record.method}" + (" ⟨select_on=test⟩" if selected_on_test(record) else "")
                if selected_on_test(record):
                    flagged.add(label)
                line = lines.setdefault(label, {})
                line.setdefault(int(k), {})[seed_key(record)] = float(rho)
    series = []
    for label in sorted(lines):
        ks = sorted(lines[label])
        stats = [_mean_std(list(lines[label][k].values())) for k in ks]
        series.append((label, [float(k) for k in ks], [s[0] for s in stats], [s[1] for s in stats], label in flagged))
    if not series:
        return []
    return [draw("fig7-prior-spearman", "Estimated prior vs true class frequencies (CSL Figure 7)",
                 "Spearman correlation over the top-k most frequent classes; bands = ± std over seeds.",
                 "top-k classes", "Spearman ρ", series, fmt)]


def _mean_std(values: list[float]) -> tuple[float, float | None]:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    return mean, (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5


def parameter_figures(groups: list[SettingGroup], metric: Metric, fmt: str = "png") -> list[Figure]:
    """CSL Figures 8 (gamma-) and 9 (K) for every table where such a sweep exists."""
    out = []
    for param, symbol, paper in PARAM_FIGURES:
        key = f"method.params.{param}"
        for group in groups:
            lines: dict[str, list] = {}
            for row in group.rows:
                if key not in row.identity:
                    continue
                rest = {k: v for k, v in row.identity.items()
                        if k != key and not k.endswith(("source_hash", "version"))}
                lines.setdefault(json.dumps(rest, sort_keys=True, default=str), []).append((row.identity[key], row))
            lines = {k: v for k, v in lines.items() if len({x for x, _ in v}) >= 2}
            if not lines:
                continue
            series = []
            for rest_key, points in sorted(lines.items()):
                points = sorted(((float(x), cell_for(metric, row.records)) for x, row in points), key=lambda p: p[0])
                points = [(x, c) for x, c in points if c is not None]
                series.append((_line_label(json.loads(rest_key), [json.loads(k) for k in lines]),
                               [x for x, _ in points], [c.mean for _, c in points], [c.std for _, c in points]))
            out.append(draw(f"fig{paper[-1]}-{slug(group.dataset)}-{param}",
                            f"{group.dataset}: {metric.name} vs {symbol} ({paper})",
                            f"{paper}: {metric.name} vs {param}; bands = ± std over seeds.",
                            param, metric.name, series, fmt))
    return out


def _line_label(rest: dict[str, Any], all_rests: list[dict[str, Any]]) -> str:
    varying = sorted(k for k in rest if any(other.get(k) != rest[k] for other in all_rests))
    name = str(rest.get("method.name", "method"))
    details = ", ".join(f"{k.rsplit('.', 1)[-1]}={rest[k]}" for k in varying if k != "method.name")
    return f"{name} ({details})" if details else name
