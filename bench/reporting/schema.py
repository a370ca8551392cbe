"""The metric schema (``reports/metrics.yaml``): every report column is a ``Metric`` read from it.

A metric says where its value lives in a run record (``source``), how it is shown (``name``,
``format``, ``scale``), which way is better (``direction``) and, when it can be recomputed from a
run's stored test scores, which ``statistic`` the paired bootstrap recomputes; a cost metric's
``unit`` (``bench.reporting.units``) lets its column pick the unit that fits its values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core.errors import InputError
from bench.core.resources import shipped
from bench.reporting.datafiles import read_data_file
from bench.reporting.units import LADDERS

REPORTS_DIR = shipped("reports")
DEFAULT_SCHEMA = REPORTS_DIR / "metrics.yaml"
DIRECTIONS = ("max", "min")
GROUPS = ("accuracy", "group", "class", "diagnostic", "cost", "summary")
ROOTS = ("metrics", "cost", "timings", "extra", "selection", "class_ap", "derived")
STATISTIC_KINDS = ("map_c", "map_o", "micro_ap", "group", "class")
REQUIRED = ("key", "name", "direction", "format", "group", "source", "description")


class SchemaError(InputError):
    """A malformed metric schema file (the message names the file and the entry)."""


@dataclass(frozen=True)
class Metric:
    """One column kind: where its value is, how it is shown and which way is better."""

    key: str
    name: str
    direction: str
    format: str
    group: str
    source: str
    description: str
    scale: float = 1.0
    statistic: str | None = None
    unit: str | None = None

    def value(self, record: Any) -> float | None:
        """The metric of ``record`` (scaled), or None when the record does not hold it."""
        root, _, path = self.source.partition(".")
        if root == "class_ap":
            names, aps = record.class_names or [], record.per_class_ap or []
            raw = aps[names.index(path)] if path in names and len(aps) == len(names) else None
        else:
            raw = getattr(record, root, None)
            for part in path.split("."):
                raw = raw.get(part) if isinstance(raw, dict) else None
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or math.isnan(raw):
            return None
        return float(raw) * self.scale

    def text(self, value: float | None) -> str:
        """``value`` formatted with the metric's format spec ("–" when missing)."""
        if value is None:
            return "–"
        return format(int(round(value)) if self.format.endswith("d") else value, self.format)

    def oriented(self, value: float) -> float:
        """``value`` signed so that larger is always better."""
        return value if self.direction == "max" else -value


def _valid_format(spec: Any) -> bool:
    try:
        format(1 if str(spec).endswith("d") else 1.5, spec)
    except (ValueError, TypeError):
        return False
    return True


def _check_entry(entry: Any, index: int, where: str) -> Metric:
    if not isinstance(entry, dict):
        raise SchemaError(f"{where}: metrics[{index}] must be a mapping")
    label = f"{where}: metric '{entry.get('key', index)}'"
    missing = [k for k in REQUIRED if k not in entry]
    if missing:
        raise SchemaError(f"{label} lacks field(s) {', '.join(missing)}")
    unknown = set(entry) - set(REQUIRED) - {"scale", "statistic", "unit"}
    if unknown:
        raise SchemaError(f"{label} has unknown field(s) {', '.join(sorted(unknown))}")
    if entry["direction"] not in DIRECTIONS:
        raise SchemaError(f"{label}: direction must be max or min, got {entry['direction']!r}")
    if entry["group"] not in GROUPS:
        raise SchemaError(f"{label}: group must be one of {', '.join(GROUPS)}, got {entry['group']!r}")
    root, dot, path = str(entry["source"]).partition(".")
    if root not in ROOTS or not dot or not path:
        raise SchemaError(f"{label}: source must be <{'|'.join(ROOTS)}>.<path>, got {entry['source']!r}")
    if not _valid_format(entry["format"]):
        raise SchemaError(f"{label}: format {entry['format']!r} is not a format spec")
    statistic = entry.get("statistic")
    if statistic is not None and str(statistic).partition(":")[0] not in STATISTIC_KINDS:
        raise SchemaError(f"{label}: statistic must be one of {', '.join(STATISTIC_KINDS)}[:name], got {statistic!r}")
    if not isinstance(entry.get("scale", 1.0), (int, float)):
        raise SchemaError(f"{label}: scale must be a number")
    if entry.get("unit") is not None and entry["unit"] not in LADDERS:
        raise SchemaError(f"{label}: unit must be one of {', '.join(LADDERS)}, got {entry['unit']!r}")
    return Metric(**{k: entry[k] for k in REQUIRED}, scale=float(entry.get("scale", 1.0)),
                  statistic=statistic, unit=entry.get("unit"))


def load_schema(path: str | Path | None = None) -> dict[str, Metric]:
    """The metrics of a schema file keyed by ``key``, in file order (default ``reports/metrics.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_SCHEMA
    where = str(path)
    data = read_data_file(path, SchemaError)
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), list):
        raise SchemaError(f"{where}: expected a top-level 'metrics:' list")
    schema: dict[str, Metric] = {}
    for index, entry in enumerate(data["metrics"]):
        metric = _check_entry(entry, index, where)
        if metric.key in schema:
            raise SchemaError(f"{where}: metric key '{metric.key}' defined twice")
        schema[metric.key] = metric
    return schema
