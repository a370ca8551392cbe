"""Recipes as data: ``recipes/<name>.yaml`` files, overridden field by field from the command line.

A recipe file is a YAML mapping of ``ImageRecipe`` fields (``Recipe`` fields for feature datasets)
plus two optional keys that are not fields: ``mode`` (the run mode the recipe is written for) and
``description``. ``load_recipe(name_or_path)`` reads ``recipes/<name>.yaml`` (or a path) and checks
every key; ``parse_overrides(["lr=1e-4", "amp=off"])`` types ``--set`` values by the field's
declared type (``none`` / ``null`` for optional fields, ``true`` / ``false`` for booleans, integer
literals only for integer fields: ``epochs=1e12`` or ``epochs=3.0`` is refused), and
``build_recipe(values, overrides, image_dataset)`` makes the ``Recipe`` or ``ImageRecipe`` a run uses
and ``recipe_for_run`` picks the file (the mode's ``default_recipe``: ``csl`` for ``--mode finetune``,
``linear`` for ``--mode linear``). Every
error names the file, the field and the allowed values.
"""
from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any

from bench.core.params import suggest
from bench.core.resources import shipped
from bench.core.yamlfile import read_yaml
from bench.runs.modes import get_mode
from bench.runs.recipe import BASE_FIELDS, ImageRecipe, Recipe, RecipeError

RECIPES_DIR = shipped("recipes")
META_KEYS = ("mode", "description")
FIELD_TYPES: dict[str, Any] = typing.get_type_hints(ImageRecipe)
TRUE, FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
_INTEGER = re.compile(r"[+-]?[0-9]+")


def recipe_names() -> list[str]:
    """The recipes shipped in ``recipes/``."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def recipe_path(name_or_path: str) -> Path:
    """``recipes/<name>.yaml`` for a bare name, else the path itself."""
    if "/" not in name_or_path and not name_or_path.endswith((".yaml", ".yml")):
        path = RECIPES_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise RecipeError(f"unknown recipe '{name_or_path}'{suggest(name_or_path, recipe_names())}; "
                              f"known: {', '.join(recipe_names())} (or give a .yaml path)")
        return path
    path = Path(name_or_path)
    if not path.is_file():
        raise RecipeError(f"recipe file {path}: not found")
    return path


def _typed(base: type, value: Any) -> Any:
    """``value`` as ``base`` (bool, int, float or str); ValueError when it is not one."""
    if base is bool:
        text = str(value).strip().lower()
        if text not in TRUE + FALSE:
            raise ValueError
        return text in TRUE
    if isinstance(value, bool):
        raise ValueError
    if base is int:
        if isinstance(value, int):
            return value
        if not isinstance(value, str) or not _INTEGER.fullmatch(value.strip()):
            raise ValueError  # 1e12, 3.0, 2.5: an integer field takes an integer literal only
        return int(value.strip())
    return float(value) if base is float else str(value)


def _coerce(name: str, value: Any, where: str) -> Any:
    """``value`` (YAML-loaded or command-line text) as the declared type of field ``name``."""
    declared = FIELD_TYPES[name]
    if typing.get_origin(declared) is tuple:  # a grid: a YAML list, or comma-separated text ("" = empty)
        items = value if isinstance(value, list) else [v for v in str(value).split(",") if v.strip()]
        try:
            return tuple(_typed(float, v) for v in items)
        except (TypeError, ValueError):
            raise RecipeError(f"{where}: field '{name}' must be a list of numbers; got {value!r}") from None
    optional = isinstance(declared, types.UnionType) and type(None) in declared.__args__
    base = next(a for a in declared.__args__ if a is not type(None)) if optional else declared
    if optional and (value is None or str(value).strip().lower() in ("none", "null")):
        return None
    try:
        return _typed(base, value)
    except (TypeError, ValueError):
        kind = f"{base.__name__}{' or none' if optional else ''}"
        raise RecipeError(f"{where}: field '{name}' must be {kind}; got {value!r}") from None


def _check_key(key: str, where: str) -> None:
    if key not in FIELD_TYPES:
        known = sorted(FIELD_TYPES)
        raise RecipeError(f"{where}: unknown recipe field '{key}'{suggest(key, known)}; fields: {', '.join(known)}")


def load_recipe(name_or_path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(typed field values, meta: ``mode``, ``description``, ``source``) of a recipe file."""
    path = recipe_path(name_or_path)
    content = read_yaml(path, RecipeError, label="recipe file ")
    if not isinstance(content, dict):
        raise RecipeError(f"recipe file {path}: must be a mapping of field: value")
    meta = {"source": str(path), **{k: content[k] for k in META_KEYS if k in content}}
    values = {}
    for key, value in content.items():
        if key in META_KEYS:
            continue
        _check_key(str(key), f"recipe file {path}")
        values[key] = _coerce(key, value, f"recipe file {path}")
    return values, meta


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["lr=1e-4", "pretrained=none"]`` -> typed field values (last one wins)."""
    values = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise RecipeError(f"--set '{item}': expected field=value")
        _check_key(key, f"--set '{item}'")
        values[key] = _coerce(key, text.strip(), f"--set '{item}'")
    return values


def build_recipe(values: dict[str, Any], overrides: dict[str, Any], image_dataset: bool) -> Recipe:
    """The run's recipe: file ``values`` updated by ``overrides``; an ``ImageRecipe`` for image
    datasets, a ``Recipe`` for feature datasets (a file's image fields do not apply there; an
    override of one is an error). Overriding ``lr`` or ``weight_decay`` alone narrows the file's
    grid of that value to the value itself (``--lr 1e-3`` trains at 1e-3)."""
    narrowed = {grid: (overrides[name],) for name, grid in (("lr", "lr_grid"), ("weight_decay", "weight_decay_grid"))
                if name in overrides and grid not in overrides and values.get(grid)}
    overrides = {**narrowed, **overrides}
    if image_dataset:
        return ImageRecipe(**{**values, **overrides})
    extra = sorted(set(overrides) - set(BASE_FIELDS))
    if extra:
        raise RecipeError(f"recipe field '{extra[0]}' applies to image datasets only (this dataset has features)")
    merged = {**values, **overrides}
    return Recipe(**{k: v for k, v in merged.items() if k in BASE_FIELDS})


def recipe_for_run(mode: str | None, image_dataset: bool, recipe: str | None,
                   overrides: dict[str, Any]) -> tuple[str, Recipe]:
    """(mode, recipe) of a ``bench run``: the mode given, else the recipe file's, else ``linear``;
    the recipe file given, else the mode's default; then the overrides."""
    if recipe is not None:
        values, meta = load_recipe(recipe)
        mode = mode or meta.get("mode") or "linear"
    else:
        mode = mode or "linear"
        values, _ = load_recipe(get_mode(mode).default_recipe)
    return mode, build_recipe(values, overrides, image_dataset)


def coerce_field(name: str, value: Any, where: str) -> Any:
    """``value`` as recipe field ``name``'s declared type (see ``parse_overrides``); ``RecipeError``
    naming ``where`` for an unknown field or a value of the wrong type."""
    _check_key(name, where)
    return _coerce(name, value, where)


def is_list_field(name: str) -> bool:
    """Whether field ``name`` holds a list of values itself (e.g. a grid of learning rates)."""
    return typing.get_origin(FIELD_TYPES.get(name)) is tuple
