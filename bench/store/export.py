"""Exporting runs as a table: one row per run, flattened metrics, the resolved configuration as
columns (method / dataset / protocol parameters, recipe fields, split, mode), per-class AP columns.

Formats: CSV, parquet (pyarrow) and xlsx, the last only when openpyxl (pandas' xlsx writer) is
installed; any other format is refused before anything is written.
"""
from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

from bench.core.errors import InputError
from bench.store.records import RunRecord

FORMATS = ("csv", "parquet", "xlsx")
BASE_COLUMNS = ("id", "config_hash", "status", "method", "dataset", "seed", "split_seed", "manifest_sha256",
                "evaluator", "host", "pid", "created_at", "finished_at", "heartbeat_at", "error")
PREFIXED_FIELDS = ("selection", "timings", "cost", "env", "extra")


def _flatten(value: dict, prefix: str, out: dict[str, Any]) -> None:
    """Nested dict keys joined with "/" under ``prefix``; lists become JSON text, NaN None."""
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            _flatten(item, f"{name}/", out)
        elif isinstance(item, (list, tuple)):
            out[name] = json.dumps(item)
        else:
            out[name] = item


def config_columns(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration's columns, so exported runs group without parsing JSON: ``method/name``,
    ``method/<param>``, ``dataset/name``, ``dataset/<param>``, ``protocol/name``,
    ``protocol/<param>``, ``recipe/<field>``, ``split/<field>`` (split_seed, val_fraction,
    val_labels), ``mode``, ``select_on``; None values are left out (an empty cell, e.g. no protocol).
    Lists become JSON text; identities (versions, source hashes) stay in ``config``."""
    out: dict[str, Any] = {}
    for part in ("method", "dataset", "protocol"):
        section = config.get(part)
        if isinstance(section, dict):
            out[f"{part}/name"] = section.get("name")
            _flatten(section.get("params") or {}, f"{part}/", out)
        else:  # a hand-made record: the name alone
            out[f"{part}/name"] = section
    for part in ("recipe", "split"):
        if isinstance(config.get(part), dict):
            _flatten(config[part], f"{part}/", out)
    for key in ("mode", "select_on"):
        out[key] = config.get(key)
    return {k: v for k, v in out.items() if v is not None}  # absent (e.g. no protocol): an empty cell


def run_row(record: RunRecord) -> dict[str, Any]:
    """The exported row of ``record``.

    Columns: ``BASE_COLUMNS``; metrics flattened unprefixed (``map_c``, ``group_map/rare``,
    ``ema/map_c``; a metric whose name is taken gets ``metrics/``); ``selection/…``,
    ``timings/…``, ``cost/…``, ``env/…``, ``extra/…``; ``config_columns``; ``config`` as JSON
    text; and ``ap/<class name>`` per class (empty for excluded classes).
    """
    row: dict[str, Any] = {name: getattr(record, name) for name in BASE_COLUMNS}
    metrics: dict[str, Any] = {}
    _flatten(record.metrics or {}, "", metrics)
    for name, item in metrics.items():
        row[f"metrics/{name}" if name in row else name] = item
    for field in PREFIXED_FIELDS:
        _flatten(getattr(record, field) or {}, f"{field}/", row)
    for name, item in config_columns(record.config or {}).items():
        row.setdefault(name, item)
    row["config"] = json.dumps(record.config, sort_keys=True)
    for class_name, ap in zip(record.class_names or [], record.per_class_ap or []):
        row[f"ap/{class_name}"] = math.nan if ap is None else float(ap)
    return row


def check_format(fmt: str) -> None:
    """``InputError`` unless runs can be written as ``fmt`` here (xlsx needs openpyxl)."""
    if fmt.lower() not in FORMATS:
        raise InputError(f"export format {fmt!r} unknown; use one of {', '.join(FORMATS)}")
    if fmt.lower() == "xlsx" and importlib.util.find_spec("openpyxl") is None:
        raise InputError("export format xlsx needs openpyxl (pip install openpyxl); or export .csv or .parquet")


def write_runs(records: list[RunRecord], path: Path, fmt: str = "csv") -> int:
    """Write ``records`` (one row each, ``ap/…`` columns last) to ``path`` as CSV or parquet.

    Columns are the union over runs (runs on other datasets leave a class's column empty). A column
    holding values of several kinds (text and numbers) is written as text so parquet can type it.
    Returns the number of rows written.
    """
    import pandas as pd

    fmt = fmt.lower()
    check_format(fmt)
    rows = [run_row(record) for record in records]
    seen = dict.fromkeys(BASE_COLUMNS)
    for row in rows:
        seen.update(dict.fromkeys(row))
    columns = [c for c in seen if not c.startswith("ap/")] + [c for c in seen if c.startswith("ap/")]
    frame = pd.DataFrame(rows, columns=columns)
    for column in frame.columns[frame.dtypes.eq(object)]:
        kinds = {type(v) for v in frame[column] if v is not None and not (isinstance(v, float) and math.isnan(v))}
        if len(kinds) > 1:
            frame[column] = [None if v is None else str(v) for v in frame[column]]
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "xlsx":
        frame.to_excel(path, index=False, engine="openpyxl")
    else:
        frame.to_parquet(path, index=False, engine="pyarrow")
    return len(frame)
