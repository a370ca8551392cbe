"""Fixtures the benchmarks share."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def oisim_root(tmp_path_factory) -> Path:
    """Where openimages-sim is generated: ``$BENCH_OISIM_ROOT`` (kept between runs), else a temp folder."""
    given = os.environ.get("BENCH_OISIM_ROOT")
    return Path(given) if given else tmp_path_factory.mktemp("openimages-sim")
