"""The report's YAML data files (``reports/metrics.yaml``, ``reports/references.yaml``), parsed once.

Parsing the references file costs more than the rest of a cached report (60 ms), so a file's parsed
content is kept as JSON in the user cache folder (``bench.core.paths.cache_dir``) under
``report-data/<sha256 of the file's bytes>.json``: any edit to the file parses it afresh, and a
content JSON cannot hold exactly (one whose JSON round trip differs) is never cached. An unwritable
or unreadable cache only means parsing every time. Errors are ``read_yaml``'s (file, line, problem).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from bench.core.paths import cache_dir, write_cache_text

CACHE_FOLDER = "report-data"


def read_data_file(path: str | Path, error: type[Exception]) -> Any:
    """The parsed content of the YAML file ``path`` (see the module docstring)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError:
        return _parse(path, error)  # read_yaml words the error
    cached = _cache_file(raw)
    try:
        return json.loads(cached.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    data = _parse(path, error)
    try:
        text = json.dumps(data)
    except (TypeError, ValueError):  # content JSON cannot hold
        return data
    if json.loads(text) == data:
        write_cache_text(cached, text)
    return data


def _parse(path: Path, error: type[Exception]) -> Any:
    from bench.core.yamlfile import read_yaml

    return read_yaml(path, error)


def _cache_file(raw: bytes) -> Path:
    return cache_dir() / CACHE_FOLDER / f"{hashlib.sha256(raw).hexdigest()}.json"


def template_cache() -> Any:
    """A Jinja2 bytecode cache in the user cache folder (``report-templates/``: compiling the Markdown
    template costs 25 ms; Jinja2 keys each entry on the template's source), None when not writable."""
    import jinja2

    folder = cache_dir() / "report-templates"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder)) if os.access(folder, os.W_OK) else None
