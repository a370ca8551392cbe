"""The rows of ``bench runs``: one line per stored attempt, filtered by status, method, dataset and age.

A row holds the run's id, method, dataset, seeds, reported status (done, failed, running, stale),
the one-line failure reason, mAP(C) and the age of the attempt (now - ``created_at``). The method
and dataset filters match a selector exactly or by its plugin part (``--method negative`` matches
``negative[...]``; ``--dataset scene`` matches ``scene+rpa[p=0.5]``).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from bench.core.errors import InputError
from bench.store.codecs import parse_time
from bench.store.records import RunRecord

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """The instant ``--since`` names: an age (``30m``, ``2h``, ``3d``, ``1w``) before ``now``, or an
    ISO-8601 date or time (UTC when it has no zone); ``InputError`` otherwise."""
    now = now or datetime.now(timezone.utc)
    match = _AGE.match(text)
    if match:
        return now - timedelta(seconds=float(match.group(1)) * UNITS[match.group(2)])
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"--since {text!r}: give an age (30m, 2h, 3d, 1w) or an ISO date (2026-12-01)") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def matches(selector: str, wanted: str | None, separators: str) -> bool:
    """``selector`` is ``wanted`` or starts with it followed by one of ``separators``."""
    return wanted is None or selector == wanted or any(selector.startswith(wanted + s) for s in separators)


def age_text(seconds: float) -> str:
    """A short age: ``45s``, ``12m``, ``3h``, ``5d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(int(seconds), 0)}s"


def run_row(record: RunRecord, now: datetime) -> dict[str, Any]:
    """The listed fields of ``record`` (``map_c`` None unless done; ``reason`` None unless failed)."""
    created = parse_time(record.created_at)
    return {"id": record.id, "method": record.method, "dataset": record.dataset, "seed": record.seed,
            "split_seed": record.split_seed, "status": record.status,
            "reason": " ".join(str(record.error).split()) if record.status == "failed" and record.error else None,
            "map_c": (record.metrics or {}).get("map_c") if record.status == "done" else None,
            "created_at": record.created_at, "age_s": (now - created).total_seconds()}


def list_runs(records: list[RunRecord], *, method: str | None = None, dataset: str | None = None,
              since: datetime | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """The rows of ``records`` that pass the filters, oldest first."""
    now = now or datetime.now(timezone.utc)
    return [run_row(r, now) for r in records
            if matches(r.method, method, "[") and matches(r.dataset, dataset, "[+")
            and (since is None or parse_time(r.created_at) >= since)]
