"""Where bench writes by default: the results store (``$BENCH_STORE`` or ``results/bench.db``) and the
user cache folder (``$BENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/bench``, else ``~/.cache/bench``)."""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_STORE = Path("results") / "bench.db"


def default_store_path() -> Path:
    """``$BENCH_STORE`` when set, else ``results/bench.db`` under the working directory."""
    return Path(os.environ.get("BENCH_STORE") or DEFAULT_STORE)


def cache_dir() -> Path:
    """``$BENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/bench``, else ``~/.cache/bench``."""
    if os.environ.get("BENCH_CACHE_DIR"):
        return Path(os.environ["BENCH_CACHE_DIR"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bench"
