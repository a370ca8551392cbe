"""Where bench writes by default: the results store (``$BENCH_STORE`` or ``results/bench.db``) and the
user cache folder (``$BENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/bench``, else ``~/.cache/bench``)
with its atomic writes."""
from __future__ import annotations

import contextlib
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


def write_cache_text(path: Path, text: str) -> bool:
    """Write a cache file atomically (a per-process temporary file, then ``os.replace``), creating its
    folder; False when it cannot be written (no cache is not an error)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        return False
    return True
