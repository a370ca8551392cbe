"""A module that is imported at its first attribute access.

``pa = LazyModule("pyarrow")`` at the top of a file lets its functions write ``pa.array(...)`` as
usual while importing the file costs nothing: plugin discovery imports every dataset plugin, and
with them the readers of ``bench/io``, for every run, and pyarrow with ``pyarrow.compute`` costs
about 0.06 s of a ``scene`` run that never reads an Arrow file. The first attribute access imports
the module (``importlib.import_module``, so ``sys.modules`` caches it) and every access reads the
attribute from the real module, so behaviour is that of a plain import.
"""
from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    """Stands for the module ``name`` (see the module docstring)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"LazyModule({self._name!r})"
