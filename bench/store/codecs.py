"""Value encodings of the store: timestamps, JSON columns, compressed test scores."""
from __future__ import annotations

import io
import json
import math
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np


def utc_now() -> str:
    """The current time, ISO-8601 UTC with microseconds (sorts as text in time order)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def parse_time(text: str) -> datetime:
    """The aware datetime of an ISO-8601 timestamp written by ``utc_now`` (naive means UTC)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars/arrays, paths, tuples made JSON types and NaN made None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def to_json(value: Any, field: str) -> str | None:
    """The JSON text stored for ``field``; None stays NULL. NaN floats are stored as null.

    ValueError (one line, naming the field) for a value JSON cannot hold.
    """
    if value is None:
        return None
    try:
        return json.dumps(_plain(value), allow_nan=True, sort_keys=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"run record field '{field}' cannot be stored as JSON: {exc}") from None


def from_json(text: str | None) -> Any:
    """The value of a JSON column (NULL -> None)."""
    return None if text is None else json.loads(text)


def encode_scores(scores: np.ndarray) -> bytes:
    """The stored form of test scores: zlib (level 6) of the ``.npy`` serialisation of float32.

    ``.npy`` keeps dtype and shape (1-D CSR-aligned scores or a dense (N, C) matrix alike), float32
    is kept bit-exact so paired statistics and re-scoring later see the scores the run produced.
    """
    array = np.ascontiguousarray(np.asarray(scores, dtype=np.float32))
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return zlib.compress(buffer.getvalue(), 6)


def decode_scores(blob: bytes) -> np.ndarray:
    """The float32 array ``encode_scores`` stored."""
    return np.load(io.BytesIO(zlib.decompress(blob)), allow_pickle=False)
