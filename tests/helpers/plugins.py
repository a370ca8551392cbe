"""Temporary plugins written by a test: files under a tmp folder on BENCH_PLUGIN_PATH, discovered,
and unregistered again afterwards so no other test sees them."""
from __future__ import annotations

import contextlib
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from bench.plugins import registry


@contextlib.contextmanager
def temporary_plugins(folder: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> Iterator[Path]:
    """Write ``files`` ({"methods/x.py": source}) under ``folder``, put it on BENCH_PLUGIN_PATH,
    rediscover, yield the folder, then forget every plugin and failure those files brought."""
    for relative, source in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    registry.discover()
    monkeypatch.setenv("BENCH_PLUGIN_PATH", str(folder))
    before = {kind: dict(reg._classes) for kind, reg in registry._REGISTRIES.items()}
    registry.discover(force=True)
    try:
        yield folder
    finally:
        for kind, reg in registry._REGISTRIES.items():
            reg._classes = before[kind]
            for key in [k for k in reg.failed if k.startswith(str(folder.resolve()))]:
                del reg.failed[key]
        for name in [m for m in sys.modules if m.startswith(registry.PLUGIN_NAMESPACE + ".x")]:
            del sys.modules[name]
