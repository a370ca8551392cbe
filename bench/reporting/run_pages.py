"""What a run's page shows (``reports/run.html.j2``): curves, per-class AP, tables and the command.

* training loss and validation mAP(C) per epoch, from the run's ``extra["history"]`` (a list of
  ``{"epoch", "loss", "val_map_c", ...}``, ``bench.training``; finetuned runs record
  ``val_map_c_<variant>``: one curve each), the selected epoch dashed;
* a per-class AP bar chart (``bench.reporting.charts``) beside the sortable per-class table;
* configuration (the resolved configuration flattened to ``key = value``), selection, timings and
  cost as tables, durations and memory in the units that fit them (``bench.reporting.units``);
* the ``bench run`` line that reproduces the run (``bench.runs.reproduce``).
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

from bench.reporting import charts, units
from bench.reporting.grouping import flatten
from bench.runs.reproduce import reproduce_command

MEMORY_KEYS = {"peak_host_mb": "peak host memory", "peak_cuda_mb": "peak CUDA memory"}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=str)
    return "–" if value is None else str(value)


def history_charts(record: Any) -> list[tuple[str, str]]:
    """(caption, SVG text) of the training loss curve and of one curve per monitored mAP(C) key of
    ``record``'s history (``val_map_c`` for linear runs; ``val_map_c_raw`` / ``val_map_c_ema`` and
    the like for finetuned ones); none without a history."""
    history = [h for h in (record.extra or {}).get("history") or [] if isinstance(h, dict)]
    epochs = [_number(h.get("epoch")) for h in history]
    if not history or any(e is None for e in epochs):
        return []
    selected = _number((record.selection or {}).get("epoch"))
    loss = "Training loss per epoch"
    out = [(loss, charts.line_chart(loss, "epoch", "training loss", epochs, [_number(h.get("loss")) for h in history]))]
    monitored = sorted({k for h in history for k in h if re.fullmatch(r"[a-z]+_map_c(_[a-z0-9]+)?", k)})
    for key in monitored:
        split, _, variant = key.partition("_map_c")
        name = f"{'validation' if split == 'val' else split} mAP(C){f' ({variant[1:]})' if variant else ''}"
        caption = f"{name[0].upper()}{name[1:]} per epoch (dashed: the selected epoch)"
        out.append((caption, charts.line_chart(caption, "epoch", name, epochs, [_number(h.get(key)) for h in history],
                                               mark=selected)))
    return [(caption, svg) for caption, svg in out if svg]


def class_chart(classes: list[dict[str, Any]]) -> str:
    """The per-class AP bar chart (SVG text) of ``per_class_rows`` output."""
    return charts.bar_chart("test AP per class", "AP", [c["name"] for c in classes], [c["ap"] for c in classes])


def timing_rows(record: Any) -> list[tuple[str, str]]:
    """(name, value with its unit) of the run's timings (``*_s`` in s / min / h)."""
    rows = []
    for key, value in sorted((record.timings or {}).items()):
        number = _number(value)
        if key.endswith("_s") and number is not None:
            unit = units.fit("s", [number])
            rows.append((key.removesuffix("_s").replace("_", " "), f"{unit.text(number)} {unit.name}"))
        else:
            rows.append((key, _text(value)))
    return rows


def cost_rows(record: Any) -> list[tuple[str, str]]:
    """(name, value with its unit) of the run's cost: device time in s / min / h, memory in MiB / GiB."""
    rows = []
    for key, value in (record.cost or {}).items():
        number = _number(value)
        if key == "device_hours" and number is not None:
            unit = units.fit("h", [number])
            rows.append(("device time", f"{unit.text(number)} {unit.name}"))
        elif key in MEMORY_KEYS and number is not None:
            unit = units.fit("MiB", [number])
            rows.append((MEMORY_KEYS[key], f"{unit.text(number)} {unit.name}"))
        elif key == "samples_per_s" and number is not None:
            rows.append(("samples / s", f"{number:,.0f}"))
        elif key in MEMORY_KEYS or key == "device_hours":
            rows.append((MEMORY_KEYS.get(key, "device time"), _text(value)))
        else:
            rows.append((key.replace("_", " "), _text(value)))
    return rows


def config_rows(record: Any) -> list[tuple[str, str]]:
    """``(key, value)`` of the resolved configuration, flattened (``method.params.gamma_neg``)."""
    return [(key, _text(value)) for key, value in flatten(record.config or {}).items()]


def selection_rows(record: Any) -> tuple[list[tuple[str, str]], list[str], list[list[str]]]:
    """The model selection as (key, value) rows, and its candidates (if any) as header + rows."""
    selection = dict(record.selection or {})
    candidates = [c for c in selection.pop("candidates", None) or [] if isinstance(c, dict)]
    header = list(dict.fromkeys(k for c in candidates for k in c))
    table = [[_text(c.get(k)) for k in header] for c in candidates]
    return [(k, _text(v)) for k, v in selection.items()], header, table


def page_context(record: Any, classes: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything ``run.html.j2`` shows beyond the record itself."""
    selection, candidate_header, candidates = selection_rows(record)
    extra = {k: v for k, v in (record.extra or {}).items() if k not in ("history", "notes", "diagnostics")}
    return {"curves": history_charts(record), "class_chart": class_chart(classes), "config_rows": config_rows(record),
            "timing_rows": timing_rows(record), "cost_rows": cost_rows(record), "selection_rows": selection,
            "candidate_header": candidate_header, "candidates": candidates, "reproduce": reproduce_command(record),
            "extra_rest": extra}
