"""Reading the project's YAML data files (metric schema, references, recipes, tuning specs) with one
kind of error: ``read_yaml(path, error)`` raises ``error`` with a one-line message naming the file,
the line when the YAML is malformed, and the problem."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's C loader when built


def read_yaml(path: str | Path, error: type[Exception], label: str = "") -> Any:
    """The parsed content of ``path``; ``label`` prefixes the path in messages (e.g. "recipe file ")."""
    where = f"{label}{path}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{where}: cannot read ({exc.strerror})") from None
    try:
        return yaml.load(text, Loader=LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{where}{line}: not valid YAML ({problem})") from None
