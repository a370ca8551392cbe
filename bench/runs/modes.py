"""Training modes, registered with the runner: the runner names a mode, never imports one.

A mode is an object with

* ``name`` and ``default_recipe`` (the recipe file ``bench run --mode NAME`` uses unless told
  otherwise, e.g. ``linear`` or ``csl``),
* ``prepare(recipe, dataset_class) -> (recipe, recipe_config)``: check that the mode can train on
  the dataset (raise ``ConfigError`` naming why not), complete the recipe (e.g. the dataset's image
  size) and return the part of the recipe that the configuration hash records,
* ``run(resolved, prepared, store, progress) -> RunResult``: train and evaluate one run.

Modes come from the entry-point group ``bench.modes`` (the shipped ``linear`` and ``finetune`` are
declared in ``pyproject.toml``; a third-party package adds its own the same way) or from
``register_mode`` at run time. Listing the names loads no mode (and so imports no torch).
"""
from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING, Any, Protocol

from bench.core.errors import InputError
from bench.core.params import suggest

if TYPE_CHECKING:
    from bench.runs.config import ResolvedRun
    from bench.runs.recipe import Recipe
    from bench.runs.resolve import PreparedDataset
    from bench.runs.result import RunResult
    from bench.store import Store

MODE_GROUP = "bench.modes"


class ConfigError(InputError):
    """A run option out of range or inconsistent with the dataset, the method or the mode."""


class Mode(Protocol):
    """What the runner needs of a training mode (see the module docstring)."""

    name: str
    default_recipe: str

    def prepare(self, recipe: Recipe, dataset_class: type) -> tuple[Recipe, dict[str, Any]]: ...

    def run(self, resolved: ResolvedRun, prepared: PreparedDataset, store: Store,
            progress: bool | None) -> RunResult: ...


_REGISTERED: dict[str, Mode] = {}


def register_mode(mode: Mode) -> Mode:
    """Register ``mode`` under ``mode.name`` for this process (entry points need no call)."""
    _REGISTERED[mode.name] = mode
    return mode


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=MODE_GROUP)}


def mode_names() -> list[str]:
    """Every available mode name, without loading any mode."""
    return sorted({*_entry_points(), *_REGISTERED})


def get_mode(name: str) -> Mode:
    """The mode registered as ``name``; ``ConfigError`` with the closest name when there is none."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    entry = _entry_points().get(name)
    if entry is None:
        names = mode_names()
        raise ConfigError(f"mode '{name}' is not available{suggest(name, names)} (modes: {', '.join(names)})")
    mode = entry.load()
    _REGISTERED[name] = mode
    return mode
