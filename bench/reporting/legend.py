"""Figure legends: short, unique line labels and one style per line.

A line's label is its method selector shortened to what tells it apart: among the lines of one
figure sharing a method name, only the parameters whose values differ are kept
(``p-asl (gamma_neg=2)``), never the full parameter dump; labels longer than ``MAX_LABEL`` are cut,
and labels still equal are numbered. Each distinct label gets its own colour (matplotlib's
``tab10``, then ``tab20``); a run selected on the test set is drawn dashed with ``x`` markers and
labelled ``⚑ test-selected``, a validation-selected one solid with round markers.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.plugins.selectors import SelectorError, parse_selector
from bench.reporting.headings import numbered
from bench.reporting.model import TEST_SELECTED_MARK

MAX_LABEL = 48
TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
         "#17becf")
TAB20_EXTRA = ("#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d",
               "#9edae5")
COLOURS = TAB10 + TAB20_EXTRA
MARKERS = ("o", "s", "^", "D", "v")


@dataclass(frozen=True)
class LineStyle:
    """How one line is drawn and named in the legend."""

    label: str
    colour: str
    linestyle: str
    marker: str


def _parts(label: str) -> tuple[str, dict[str, str]]:
    """(method name, parameters) of a row label ``name[k=v,...] ⟨k=v, ...⟩``."""
    head, _, rest = label.partition(" ⟨")
    try:
        parsed = parse_selector(head.strip())
        params = dict(parsed.params)
        name = parsed.name
    except SelectorError:
        name, params = head.strip(), {}
    for item in rest.rstrip("⟩").split(", ") if rest else []:
        key, _, value = item.partition("=")
        params[key.rsplit(".", 1)[-1]] = value
    return name, params


def short_labels(labels: Sequence[str]) -> list[str]:
    """Short unique labels of ``labels`` (see the module docstring), in order."""
    parts = [_parts(label) for label in labels]
    out = []
    for name, params in parts:
        same = [p for n, p in parts if n == name]
        varying = [k for k in params if any(other.get(k) != params[k] for other in same)]
        text = f"{name} ({', '.join(f'{k}={params[k]}' for k in varying)})" if varying else name
        out.append(text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…")
    return numbered(out, " #{n}")


def styles(labels: Sequence[str], test_selected: Sequence[bool]) -> list[LineStyle]:
    """The style of each line: a colour per distinct short label, dashed ``x`` when test-selected."""
    base = short_labels([label for label, flagged in zip(labels, test_selected) if not flagged])
    flagged_base = short_labels([label for label, flagged in zip(labels, test_selected) if flagged])
    val, test = iter(base), iter(flagged_base)
    names = [next(test) if flagged else next(val) for flagged in test_selected]
    colours: dict[str, int] = {}
    out = []
    for name, flagged in zip(names, test_selected):
        index = colours.setdefault(name, len(colours))
        colour, marker = COLOURS[index % len(COLOURS)], MARKERS[index // len(COLOURS) % len(MARKERS)]
        if flagged:
            out.append(LineStyle(f"{name} {TEST_SELECTED_MARK} test-selected", colour, "--", "x"))
        else:
            out.append(LineStyle(name, colour, "-", marker))
    return out
