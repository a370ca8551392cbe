"""Temporary plugins written by a test: files under a tmp folder on BENCH_PLUGIN_PATH, discovered
inside ``Registry.snapshot()`` so no other test sees them."""
from __future__ import annotations

import contextlib
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from bench.plugins.registry import DATASETS, METHODS, discover


@contextlib.contextmanager
def temporary_plugins(folder: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> Iterator[Path]:
    """Write ``files`` ({"methods/x.py": source}) under ``folder``, put it on BENCH_PLUGIN_PATH,
    rediscover, yield the folder; on exit the registries forget every plugin and failure those files brought."""
    for relative, source in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    with METHODS.snapshot(), DATASETS.snapshot():
        monkeypatch.setenv("BENCH_PLUGIN_PATH", str(folder))
        discover(force=True)
        yield folder
