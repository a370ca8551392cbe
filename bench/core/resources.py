"""Where the shipped plugins, recipes and report templates are: one lookup for every install.

They live in the repository's top-level ``methods/``, ``datasets/``, ``recipes/`` and ``reports/``
and are package data of ``bench.shipped`` (links in a checkout, copies in a wheel), so an editable
install and a plain ``pip install .`` resolve them the same way: through
``importlib.resources.files("bench.shipped")``.
"""
from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

SHIPPED_FOLDERS = ("methods", "datasets", "recipes", "reports")


@functools.cache
def shipped_root() -> Path:
    """The folder holding the shipped ``methods/``, ``datasets/``, ``recipes/`` and ``reports/``."""
    return Path(str(resources.files("bench.shipped")))


def shipped(folder: str) -> Path:
    """The shipped folder ``folder`` (one of ``SHIPPED_FOLDERS``), with links resolved."""
    if folder not in SHIPPED_FOLDERS:
        raise ValueError(f"no shipped folder '{folder}'; known: {', '.join(SHIPPED_FOLDERS)}")
    return (shipped_root() / folder).resolve()
