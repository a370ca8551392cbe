"""Paper layouts: which metric columns a dataset's table shows, as in the CSL paper.

* ``csl-table-1`` (default; CSL Tables 1 and 2): Method | mAP(C) | mAP(O).
* ``csl-table-3`` (OpenImages V3): Method | Group 1 .. Group 5 | All classes (G1 the rarest fifth).
* ``csl-table-4`` (LVIS): Method | mAP(C) | mAP(O) | Person-AP.
* protocol sweeps (COCO FPC / RPA in the CSL paper, any dataset here): one row per method and one
  column per value of the protocol parameter (N_s for ``fpc``, p for ``rpa``), cells mAP(C).

Columns name metric keys of ``reports/metrics.yaml``; a header given here replaces the metric name.
"""
from __future__ import annotations

from dataclasses import dataclass

from bench.reporting.schema import Metric


@dataclass(frozen=True)
class Layout:
    """A table layout: the dataset plugins it applies to and its (metric key, header) columns."""

    name: str
    title: str
    datasets: tuple[str, ...]
    columns: tuple[tuple[str, str | None], ...]


DEFAULT = Layout("csl-table-1", "CSL Tables 1-2 layout", (), (("map_c", None), ("map_o", None)))
LAYOUTS = (
    Layout("csl-table-3", "CSL Table 3 layout (OpenImages V3 frequency groups)", ("openimages-v3",),
           (("group_g1", "Group 1"), ("group_g2", "Group 2"), ("group_g3", "Group 3"), ("group_g4", "Group 4"),
            ("group_g5", "Group 5"), ("map_c", "All classes"))),
    Layout("csl-table-4", "CSL Table 4 layout (LVIS)", ("lvis",),
           (("map_c", None), ("map_o", None), ("person_ap", None))),
)
SWEEP_PARAMETERS = {"fpc": ("n_s", "N_s"), "rpa": ("p", "p")}
SWEEP_METRIC = "map_c"


def layout_for(dataset: str) -> Layout:
    """The layout of bench dataset plugin ``dataset`` (the default when none is specific to it)."""
    for layout in LAYOUTS:
        if dataset in layout.datasets:
            return layout
    return DEFAULT


def layout_columns(layout: Layout, schema: dict[str, Metric], extra: tuple[str, ...] = ()) -> list[tuple[Metric, str]]:
    """(metric, header) of each column of ``layout`` followed by the ``extra`` metric keys."""
    out = []
    for key, header in layout.columns + tuple((k, None) for k in extra):
        if key not in schema:
            raise KeyError(f"layout '{layout.name}': metric '{key}' is not in the metric schema")
        out.append((schema[key], header or schema[key].name))
    return out
