"""Stale detection: a "running" record whose process stopped reporting.

A record is stale when its ``heartbeat_at`` is older than ``stale_after`` seconds, or when it was
written on this host and its pid no longer exists. Readers report such a record as "stale";
only ``Store.mark_stale`` writes that status back.
"""
from __future__ import annotations

import os
import socket
from datetime import datetime, timezone
from pathlib import Path

from bench.store.codecs import parse_time
from bench.store.records import RunRecord

DEFAULT_STALE_AFTER_S = 120.0
HOST = socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host: signal 0 probes it, a zombie counts as dead."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """Whether ``/proc`` (where there is one) shows ``pid`` exited but not yet reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


def is_stale(record: RunRecord, stale_after: float, now: datetime | None = None) -> bool:
    """Whether a "running" ``record`` has stopped: old heartbeat, or a dead pid on this host."""
    if record.status != "running":
        return False
    now = now or datetime.now(timezone.utc)
    age = (now - parse_time(record.heartbeat_at)).total_seconds()
    if age > stale_after:
        return True
    return record.host == HOST and not pid_alive(record.pid)


def with_derived_status(record: RunRecord, stale_after: float, now: datetime | None = None) -> RunRecord:
    """``record`` with status "stale" when ``is_stale`` says so (in place; returned for chaining)."""
    if is_stale(record, stale_after, now):
        record.status = "stale"
    return record
