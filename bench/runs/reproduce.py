"""The ``bench run`` command line that reproduces a stored run, rebuilt from its resolved configuration.

Method and dataset selectors, seed and split seed, mode, the shipped recipe (``recipes/*.yaml``) of
that mode needing the fewest overrides with a ``--set key=value`` for each recipe field that differs
from it, the run options that differ from their defaults (validation fraction, model selection,
evaluator), the validation labels and a class-prior file. Used by ``bench report``'s run pages; the
same line ``bench show`` prints.
"""
from __future__ import annotations

import shlex
from typing import Any

from bench.core.resources import shipped
from bench.runs.recipe import SCALE_FIELDS

RUN_DEFAULTS = {"val_fraction": 0.2, "select_on": "val", "evaluator": "partial"}


def closest_recipe(mode: str, recipe: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(name, values) of the shipped recipe of ``mode`` that needs the fewest ``--set`` for ``recipe``
    (ties to the alphabetically first); ``("", {})`` when none has that mode."""
    from bench.runs.recipe_files import load_recipe

    candidates = []
    for path in sorted(shipped("recipes").glob("*.yaml")):
        values, meta = load_recipe(str(path))
        if meta.get("mode", "linear") == mode:
            candidates.append((sum(_plain(values.get(k)) != _plain(v) for k, v in recipe.items()), path.stem, values))
    if not candidates:
        return "", {}
    _, name, values = min(candidates, key=lambda c: (c[0], c[1]))
    return name, values


def _plain(value: Any) -> Any:
    """Lists and tuples alike (a recipe file gives tuples, a stored configuration lists)."""
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def _setting(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return "none" if value is None else str(value)


def reproduce_words(record: Any) -> list[str]:
    """The words of the command (see the module docstring) for a run record."""
    config = record.config or {}
    mode, recipe = config.get("mode", "linear"), config.get("recipe") or {}
    words = ["bench", "run", "--method", str(record.method), "--dataset", str(record.dataset),
             "--seed", str(record.seed), "--split-seed", str(record.split_seed), "--mode", str(mode)]
    name, values = closest_recipe(mode, recipe)
    if name:
        words += ["--recipe", name]
    for key, value in recipe.items():
        if key not in values or _plain(values[key]) != _plain(value):
            words += ["--set", f"{key}={_setting(value)}"]
    for key in SCALE_FIELDS:  # left out of the configuration at 0, where the recipe file may set them
        if key not in recipe and values.get(key, 0) != 0:
            words += ["--set", f"{key}=0"]
    split = config.get("split") or {}
    options = {"val_fraction": split.get("val_fraction"), "select_on": config.get("select_on"),
               "evaluator": config.get("evaluator")}
    for key, value in options.items():
        if value is not None and value != RUN_DEFAULTS[key]:
            words += [f"--{key.replace('_', '-')}", str(value)]
    if split.get("val_labels") is not None:
        words += ["--val-labels", str(split["val_labels"])]
    prior = (config.get("artifacts") or {}).get("class_prior") or {}
    if prior.get("source") == "file":
        used = ((record.extra or {}).get("artifacts") or {}).get("class_prior") or {}
        words += ["--prior-path", str(used.get("path") or f"<the class prior file with sha256 {prior.get('sha256')}>")]
    return words


def reproduce_command(record: Any) -> str:
    """The shell-quoted ``bench run ...`` line that recomputes ``record``'s configuration."""
    return shlex.join(reproduce_words(record))
