"""Grid expansion: a ``SweepSpec`` into its cells, each a resolved ``bench run`` configuration.

Order (deterministic, the order of the spec's lists): variant (named run options), dataset, method
entry, that method's parameter combinations (its own grid, then the spec's ``params`` restricted to
the parameters the method declares, in the order given), recipe combinations, split seed, seed.
Cells whose fully resolved configurations hash the same are one cell (the first kept), so a grid
axis a method does not declare never duplicates its runs.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from bench.core.params import suggest
from bench.plugins.registry import METHODS, UnknownPluginError
from bench.plugins.selectors import SelectorError, format_selector, parse_selector
from bench.runs.config import RunConfig, resolve_config
from bench.runs.recipe import ImageRecipe, Recipe, RecipeError
from bench.runs.recipe_files import recipe_for_run
from bench.runs.resolve import get_method, resolve_dataset
from bench.sweep.spec import MethodEntry, SpecError, SweepSpec

# a feature cell's label names the fields set away from recipes/linear.yaml (its recipe's base)
DEFAULTS = {Recipe: recipe_for_run("linear", False, None, {})[1].to_dict(), ImageRecipe: ImageRecipe().to_dict()}


@dataclass
class Cell:
    """One run of the sweep: its ``RunConfig``, configuration hash and resolved configuration."""

    index: int
    run: RunConfig
    config_hash: str
    config: dict[str, Any]
    method: str
    dataset: str
    variant: str | None = None

    @property
    def label(self) -> str:
        """What people read: method on dataset, the seeds and the recipe fields set away from the defaults."""
        defaults = DEFAULTS[type(self.run.recipe)]
        changed = [f"{k}={v}" for k, v in self.run.recipe.to_dict().items() if v != defaults[k]]
        recipe = f"; {', '.join(changed)}" if changed else ""
        variant = f" [{self.variant}]" if self.variant else ""
        return (f"{self.method} on {self.dataset}{variant} (seed {self.run.seed}, split seed {self.run.split_seed}"
                f"{recipe})")


def _combinations(grid: dict[str, list]) -> list[dict[str, Any]]:
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def _method_grid(entry: MethodEntry, spec: SweepSpec) -> tuple[str, dict[str, str], dict[str, list]]:
    """(method name, selector parameters, parameter grid) of one ``methods`` entry."""
    try:
        selector = parse_selector(entry.selector)
        declared = METHODS.get(selector.name).parameters
    except (SelectorError, UnknownPluginError) as exc:
        raise SpecError(f"{entry.where}: {exc}") from None
    grid = dict(entry.params)
    grid.update({k: v for k, v in spec.params.items() if k in declared and k not in entry.params})
    for key in grid:
        if key in selector.params:
            raise SpecError(f"{entry.where}: parameter '{key}' is both set in '{entry.selector}' and swept")
    return selector.name, dict(selector.params), grid


def _check_global_params(spec: SweepSpec) -> None:
    declared: set[str] = set()
    for entry in spec.methods:
        try:
            declared |= set(METHODS.get(parse_selector(entry.selector).name).parameters)
        except (SelectorError, UnknownPluginError) as exc:
            raise SpecError(f"{entry.where}: {exc}") from None
    for key in spec.params:
        if key not in declared:
            raise SpecError(f"{spec.locate(f'params.{key}')}: no method of the sweep declares parameter '{key}'"
                            f"{suggest(key, tuple(sorted(declared)))}")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _check_datasets(spec: SweepSpec) -> None:
    for index, dataset in enumerate(spec.datasets):
        try:
            resolve_dataset(dataset)
        except (ValueError, KeyError) as exc:
            raise SpecError(f"{spec.locate(f'datasets[{index}]')}: {_one_line(exc)}") from None


def _check_method(method: str, entry: MethodEntry) -> None:
    try:
        get_method(method)
    except (ValueError, KeyError) as exc:
        raise SpecError(f"{entry.where}: {_one_line(exc)}") from None


def _recipes(spec: SweepSpec, dataset: str, run: dict[str, Any]) -> tuple[str, list[Recipe]]:
    """(mode, the recipe of every recipe-grid combination) of ``dataset``'s cells: the spec's
    ``recipe_file`` (else the mode's default recipe) updated by each combination and then by the
    variant's own recipe fields (``run["recipe"]``), an ``ImageRecipe``
    for an image dataset (``bench.runs.recipe_files.recipe_for_run``, as ``bench run`` does)."""
    image = type(resolve_dataset(dataset).plugin).modality == "images"
    recipes, mode = [], run.get("mode")
    for combo in _combinations(spec.recipe):
        try:
            mode_of_file, recipe = recipe_for_run(run.get("mode"), image, spec.recipe_file,
                                                  {**combo, **run.get("recipe", {})})
        except RecipeError as exc:
            raise SpecError(f"{spec.locate('recipe')}: {dataset}: {_one_line(exc)}") from None
        mode = mode_of_file
        recipes.append(recipe)
    return str(mode), recipes


def expand(spec: SweepSpec) -> list[Cell]:
    """The cells of ``spec`` in grid order (see the module docstring), each resolved and hashed.

    Raises ``SpecError`` naming the spec entry for an unknown method, dataset or parameter value.
    """
    _check_global_params(spec)
    _check_datasets(spec)
    cells: list[Cell] = []
    seen: set[str] = set()
    for variant, options in (spec.variants or {None: {}}).items():
        cells += _variant_cells(spec, variant, {**spec.run, **options}, seen, len(cells))
    return cells


def _variant_cells(spec: SweepSpec, variant: str | None, run: dict[str, Any], seen: set[str],
                   start: int) -> list[Cell]:
    """The cells of one variant (its run options ``run``), numbered from ``start``."""
    cells: list[Cell] = []
    run_options = {k: v for k, v in run.items() if k not in ("mode", "recipe")}
    for dataset in spec.datasets:
        mode, recipes = _recipes(spec, dataset, run)
        for entry in spec.methods:
            name, fixed, grid = _method_grid(entry, spec)
            for params in _combinations(grid):
                method = format_selector(name, {**fixed, **params})
                _check_method(method, entry)
                configs = (RunConfig(method=method, dataset=dataset, seed=seed, split_seed=split_seed,
                                     recipe=recipe, mode=mode, **run_options)
                           for recipe in recipes for split_seed in spec.split_seeds for seed in spec.seeds)
                for config in configs:
                    try:
                        resolved = resolve_config(config)
                    except (ValueError, KeyError) as exc:
                        raise SpecError(f"{spec.source}: {method} on {dataset}: {_one_line(exc)}") from None
                    if resolved.config_hash in seen:
                        continue
                    seen.add(resolved.config_hash)
                    cells.append(Cell(start + len(cells), config, resolved.config_hash, resolved.config,
                                      resolved.method_selector, resolved.dataset.label, variant))
    return cells
