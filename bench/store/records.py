"""``RunRecord``: one attempt at one configuration, as stored in the ``runs`` table."""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from bench.store.codecs import from_json, to_json

STATUSES = ("running", "done", "failed", "stale")
JSON_FIELDS = ("config", "selection", "metrics", "per_class_ap", "class_names", "timings", "cost", "env", "extra")


@dataclass
class RunRecord:
    """One run attempt. Timestamps are ISO-8601 UTC text; dict/list fields are stored as JSON.

    ``status`` is "running" | "done" | "failed" | "stale"; readers report a "running" record whose
    heartbeat stopped (or whose process is gone) as "stale". ``per_class_ap`` holds floats with None
    for excluded classes, aligned with ``class_names``. ``test_scores()`` decodes the stored float32
    scores on first use (they live in their own table so listing runs stays cheap).
    """

    id: str
    config_hash: str
    status: str
    method: str
    dataset: str
    config: dict
    manifest_sha256: str
    seed: int
    split_seed: int
    evaluator: str | None
    selection: dict | None
    metrics: dict | None
    per_class_ap: list | None
    class_names: list | None
    timings: dict | None
    cost: dict | None
    env: dict
    host: str
    pid: int
    created_at: str
    finished_at: str | None
    heartbeat_at: str
    error: str | None
    extra: dict
    _scores_loader: Callable[[], np.ndarray | None] | None = field(
        default=None, init=False, repr=False, compare=False)

    def to_dict(self) -> dict:
        """Every stored field as plain Python values (JSON-serialisable)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    @classmethod
    def from_dict(cls, data: dict) -> RunRecord:
        """The record ``to_dict`` produced (e.g. sent back by a remote worker)."""
        names = [f.name for f in fields(cls) if not f.name.startswith("_")]
        missing = [name for name in names if name not in data]
        if missing:
            raise ValueError(f"run record dict lacks field(s): {', '.join(missing)}")
        return cls(**{name: data[name] for name in names})

    def test_scores(self) -> np.ndarray | None:
        """The run's test scores (float32, aligned with the test labels' CSR order), or None."""
        if self._scores_loader is None:
            return None
        return self._scores_loader()

    def with_scores_loader(self, loader: Callable[[], np.ndarray | None]) -> RunRecord:
        """This record, its ``test_scores()`` now answered by calling ``loader``."""
        self._scores_loader = loader
        return self


COLUMNS = tuple(f.name for f in fields(RunRecord) if not f.name.startswith("_"))


def record_to_row(record: RunRecord) -> tuple:
    """The ``runs`` row of ``record``, values in ``COLUMNS`` order (JSON fields serialised)."""
    if record.status not in STATUSES:
        raise ValueError(f"run record field 'status' must be one of {', '.join(STATUSES)}, got {record.status!r}")
    return tuple(
        to_json(getattr(record, name), name) if name in JSON_FIELDS else getattr(record, name)
        for name in COLUMNS
    )


def row_to_record(row: sqlite3.Row) -> RunRecord:
    """The ``RunRecord`` of a ``runs`` row, with its stored (not derived) status."""
    keys = set(row.keys())
    values: dict[str, Any] = {}
    for name in COLUMNS:
        raw = row[name] if name in keys else None
        values[name] = from_json(raw) if name in JSON_FIELDS else raw
    return RunRecord(**values)
