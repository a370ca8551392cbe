"""Exporting runs as a table: one row per run, flattened metrics, per-class AP columns."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.store.records import RunRecord

FORMATS = ("csv", "parquet")
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


def run_row(record: RunRecord) -> dict[str, Any]:
    """The exported row of ``record``.

    Columns: ``BASE_COLUMNS``; metrics flattened unprefixed (``map_c``, ``group_map/rare``,
    ``ema/map_c``; a metric whose name is taken gets ``metrics/``); ``selection/…``,
    ``timings/…``, ``cost/…``, ``env/…``, ``extra/…``; ``config`` as JSON text; and ``ap/<class
    name>`` per class (empty for excluded classes).
    """
    row: dict[str, Any] = {name: getattr(record, name) for name in BASE_COLUMNS}
    metrics: dict[str, Any] = {}
    _flatten(record.metrics or {}, "", metrics)
    for name, item in metrics.items():
        row[f"metrics/{name}" if name in row else name] = item
    for field in PREFIXED_FIELDS:
        _flatten(getattr(record, field) or {}, f"{field}/", row)
    row["config"] = json.dumps(record.config, sort_keys=True)
    for class_name, ap in zip(record.class_names or [], record.per_class_ap or []):
        row[f"ap/{class_name}"] = math.nan if ap is None else float(ap)
    return row


def write_runs(records: list[RunRecord], path: Path, fmt: str = "csv") -> int:
    """Write ``records`` (one row each, ``ap/…`` columns last) to ``path`` as CSV or parquet.

    Columns are the union over runs (runs on other datasets leave a class's column empty). A column
    holding values of several kinds (text and numbers) is written as text so parquet can type it.
    Returns the number of rows written.
    """
    import pandas as pd

    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ValueError(f"export format {fmt!r} unknown; use one of {', '.join(FORMATS)}")
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
    else:
        frame.to_parquet(path, index=False, engine="pyarrow")
    return len(frame)
