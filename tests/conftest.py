"""Shared test fixtures: where ../shared is, and skipping cleanly when it is absent."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.plugins.registry import DATASETS, METHODS
from tests.helpers.shared import shared_path


@pytest.fixture
def shared_dir() -> Path:
    return shared_path()


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    """Every test writes its own store, never results/bench.db, its own cache (the plugin index) and
    its own user config (``bench data root``), and sees no ``$BENCH_DATA``."""
    monkeypatch.setenv("BENCH_STORE", str(tmp_path / "bench.db"))
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BENCH_CONFIG", str(tmp_path / "user-config.yaml"))  # never the user's data roots
    monkeypatch.delenv("BENCH_DATA", raising=False)


@pytest.fixture(autouse=True)
def _isolated_registries():
    """Plugins a test registers or loads (check-plugin, temporary files) are forgotten after it."""
    with METHODS.snapshot(), DATASETS.snapshot():
        yield
