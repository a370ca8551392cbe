"""The results store: SQLite runs, test scores and artifacts (``Store``, ``RunRecord``, ``StoreError``).

Modules: ``store`` (the ``Store`` API), ``records`` (``RunRecord``), ``schema`` (migrations),
``connection`` (connections, transactions), ``codecs`` (timestamps, JSON, score blobs),
``liveness`` (stale detection), ``merge``, ``export``, ``errors``.
"""
from __future__ import annotations

from bench.store.codecs import decode_scores, encode_scores
from bench.store.errors import StoreError
from bench.store.liveness import DEFAULT_STALE_AFTER_S
from bench.store.records import RunRecord
from bench.store.schema import LATEST_VERSION
from bench.store.store import DEFAULT_STORE, Store, default_store_path

__all__ = [
    "DEFAULT_STALE_AFTER_S", "DEFAULT_STORE", "LATEST_VERSION", "RunRecord", "Store", "StoreError",
    "decode_scores", "default_store_path", "encode_scores",
]
