"""Published results shown beside ours (``reports/references.yaml``; its header says what it holds).

Each published number is one ``results`` entry (citation, table, dataset, protocol, backbone, input
size, pretraining, selection policy, metric, value, trust status). ``References.rows_for`` returns
the published rows of one bench dataset selector -- matched through the file's ``datasets`` map
(bench dataset plugin + protocol + protocol parameter value, and any protocol parameters the
published setting fixes, e.g. ``single-positive[draw=cole]``) -- merged into display rows: one per
(table, method, backbone, input size, pretraining, training mode), holding a value per metric key
(the file's ``metrics`` map turns published metric names into keys of ``reports/metrics.yaml``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.core.errors import InputError
from bench.reporting.datafiles import read_data_file
from bench.reporting.schema import REPORTS_DIR

DEFAULT_REFERENCES = REPORTS_DIR / "references.yaml"
STATUSES = ("verified_primary", "verified_secondary")
REQUIRED = ("citation", "reported_in", "source", "table", "dataset", "protocol", "method", "method_label",
            "backbone", "input_size", "pretraining", "selection", "metric", "value", "status")


class PublishedRowsError(InputError):
    """A malformed references file (the message names the file and the entry)."""


@dataclass
class PublishedRow:
    """One published method in one paper table and setting, with its values per metric key."""

    label: str
    table: str
    citation: str
    reported_in: str
    backbone: str | None
    input_size: int | None
    pretraining: str | None
    training_mode: str | None
    selection: str
    bench_method: str | None
    statuses: list[str] = field(default_factory=list)
    values: dict[str, float] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def setting(self) -> str:
        """Backbone, input size, pretraining and training mode as one short line."""
        parts = [self.backbone or "backbone not stated",
                 f"{self.input_size}px" if self.input_size else "input size not stated",
                 f"pretrained on {self.pretraining}" if self.pretraining else "pretraining not stated"]
        if self.training_mode:
            parts.append(self.training_mode.replace("_", " "))
        return ", ".join(parts)

    def short_table(self) -> str:
        """The table name without its parenthesised remark ("README model zoo (...)" -> "README model zoo")."""
        return self.table.split(" (")[0]

    def citation_text(self) -> str:
        return self.citation if self.citation == self.reported_in else f"{self.citation} via {self.reported_in}"


def _same(published: Any, ours: Any) -> bool:
    try:
        return math.isclose(float(published), float(ours), rel_tol=1e-9, abs_tol=1e-12)
    except (TypeError, ValueError):
        return str(published) == str(ours)


class References:
    """The published rows of a references file, looked up by bench dataset selector parts."""

    def __init__(self, data: dict[str, Any], where: str):
        self.where = where
        self.papers: dict[str, dict] = data.get("papers") or {}
        self.metric_keys: dict[str, str] = data.get("metrics") or {}
        self.datasets: list[dict] = data.get("datasets") or []
        self.selection_notes: dict[str, str] = data.get("selection_notes") or {}
        self.results: list[dict] = data.get("results") or []
        for index, entry in enumerate(self.results):
            self._check(entry, index)

    def _check(self, entry: Any, index: int) -> None:
        label = f"{self.where}: results[{index}]"
        if not isinstance(entry, dict):
            raise PublishedRowsError(f"{label} must be a mapping")
        missing = [k for k in REQUIRED if k not in entry]
        if missing:
            raise PublishedRowsError(f"{label} lacks field(s) {', '.join(missing)}")
        if entry["status"] not in STATUSES:
            raise PublishedRowsError(f"{label}: status {entry['status']!r} is not one of {', '.join(STATUSES)}")
        if entry["metric"] not in self.metric_keys:
            raise PublishedRowsError(f"{label}: metric {entry['metric']!r} has no entry in the file's 'metrics' map")
        if isinstance(entry["value"], bool) or not isinstance(entry["value"], (int, float)):
            raise PublishedRowsError(f"{label}: value must be a number, got {entry['value']!r}")

    def _published_settings(self, dataset: str, protocol: str | None, params: dict[str, Any]) -> list[tuple]:
        out = []
        for item in self.datasets:
            bench, published = item.get("bench") or {}, item.get("published") or {}
            if bench.get("dataset") != dataset or bench.get("protocol") != protocol:
                continue
            if not all(k in params and _same(v, params[k]) for k, v in (bench.get("params") or {}).items()):
                continue
            param = bench.get("param")
            out.append((published.get("dataset"), published.get("protocol"), param,
                        params.get(param) if param else None))
        return out

    def rows_for(self, dataset: str, protocol: str | None, params: dict[str, Any]) -> list[PublishedRow]:
        """Published rows of bench dataset plugin ``dataset`` under ``protocol`` (None = native labels)
        with protocol parameters ``params``, in file order of their first number."""
        settings = self._published_settings(dataset, protocol, params)
        rows: dict[tuple, PublishedRow] = {}
        for entry in self.results:
            if not any(entry["dataset"] == d and entry["protocol"] == p
                       and (param is None or (value is not None and _same(entry.get("protocol_param"), value)))
                       for d, p, param, value in settings):
                continue
            key = (entry["table"], entry["method"], entry["backbone"], entry["input_size"], entry["pretraining"],
                   entry.get("training_mode"), entry["selection"])
            row = rows.get(key)
            if row is None:
                row = rows[key] = PublishedRow(
                    label=entry["method_label"], table=entry["table"], citation=entry["citation"],
                    reported_in=entry["reported_in"], backbone=entry["backbone"], input_size=entry["input_size"],
                    pretraining=entry["pretraining"], training_mode=entry.get("training_mode"),
                    selection=entry["selection"], bench_method=entry.get("bench_method"))
            row.values.setdefault(self.metric_keys[entry["metric"]], float(entry["value"]))
            for target, value in ((row.statuses, entry["status"]), (row.sources, entry["source"])):
                if value not in target:
                    target.append(value)
        return list(rows.values())


def load_references(path: str | Path | None = None) -> References:
    """The references file at ``path`` (default ``reports/references.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_REFERENCES
    data = read_data_file(path, PublishedRowsError)
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise PublishedRowsError(f"{path}: expected a mapping with a 'results:' list")
    return References(data, str(path))
