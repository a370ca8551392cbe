"""Where bench writes by default: the results store (``$BENCH_STORE`` or ``results/bench.db``)."""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_STORE = Path("results") / "bench.db"


def default_store_path() -> Path:
    """``$BENCH_STORE`` when set, else ``results/bench.db`` under the working directory."""
    return Path(os.environ.get("BENCH_STORE") or DEFAULT_STORE)
