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
    """Every test writes its own store, never results/bench.db."""
    monkeypatch.setenv("BENCH_STORE", str(tmp_path / "bench.db"))


@pytest.fixture(autouse=True)
def _isolated_registries():
    """Plugins a test registers or loads (check-plugin, temporary files) are forgotten after it."""
    with METHODS.snapshot(), DATASETS.snapshot():
        yield
