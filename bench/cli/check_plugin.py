"""``bench check-plugin PATH_OR_NAME``: run the conformance checks on one plugin file or one registered
selector, print a table, exit 1 on any failure (skips are not failures).

A method plugin gets the method suite (bench/plugins/conformance.py), a dataset plugin the dataset
suite (bench/plugins/dataset_conformance.py). A file is a dataset plugin when its folder is named
``datasets/`` (otherwise a method plugin); a selector is looked up among the methods, then the datasets."""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import typer
from rich.console import Console
from rich.table import Table

from bench.core.params import ParamError
from bench.plugins.registry import DATASETS, METHODS, PluginImportError, Registry, UnknownPluginError, load_plugin_file
from bench.plugins.selectors import SelectorError, parse_selector

if TYPE_CHECKING:
    from bench.plugins.conformance import CheckResult

STYLE = {"pass": "green", "fail": "bold red", "skip": "yellow"}
TITLES = {"methods": "conformance", "datasets": "dataset conformance"}


def _file_targets(path: Path, registry: Registry) -> dict[str, type]:
    """Selector -> class for every plugin ``path`` registers in ``registry``."""
    module = load_plugin_file(path, registry.folder)
    if module is None:
        error = registry.failed.get(str(path.resolve()), "import failed").splitlines()[-1]
        raise typer.BadParameter(f"{path}: the plugin failed to import: {error}")
    found = {name: cls for name, cls in registry.classes().items() if cls.__module__ == module.__name__}
    if not found:
        verb = f"@register_{registry.plugin_type}"
        raise typer.BadParameter(f"{path}: registers no {registry.plugin_type} (use {verb})")
    return found


def _targets(target: str) -> tuple[str, dict[str, type]]:
    """("methods" | "datasets", selector -> class) for a plugin file or a registered selector."""
    path = Path(target)
    if path.suffix == ".py" or path.exists():
        if not path.is_file():
            raise typer.BadParameter(f"{target}: no such plugin file")
        registry = DATASETS if path.resolve().parent.name == DATASETS.folder else METHODS
        return registry.folder, _file_targets(path, registry)
    try:
        name = parse_selector(target).name
    except SelectorError as error:
        raise typer.BadParameter(str(error)) from None
    errors: list[UnknownPluginError] = []
    for registry in (METHODS, DATASETS):
        try:
            return registry.folder, {target: registry.get(name)}
        except UnknownPluginError as error:
            errors.append(error)
    # neither has it: an import failure first, else the registry holding the closest name
    closest = difflib.get_close_matches(name, METHODS.names() + DATASETS.names(), n=1, cutoff=0.5)
    best = next((e for e in errors if isinstance(e, PluginImportError)), None)
    best = best or (errors[1] if closest and closest[0] not in METHODS.names() else errors[0])
    raise typer.BadParameter(str(best)) from None


def _table(title: str, results: list[CheckResult]) -> Table:
    table = Table(title=title)
    for column in ("check", "status", "detail"):
        table.add_column(column)
    for result in results:
        table.add_row(result.check, f"[{STYLE[result.status]}]{result.status}[/]", result.detail)
    return table


TARGET_HELP = "a method or dataset plugin file (.py; one in a datasets/ folder is a dataset) or a registered selector"


def check_plugin(target: str = typer.Argument(..., help=TARGET_HELP)) -> None:
    """Run the method or dataset conformance checks on a plugin file or registered plugin.

    Example: bench check-plugin 'selective[topk_scope=sample]'   or   bench check-plugin datasets/my_data.py
    """
    from bench.plugins import dataset_conformance  # the suites import torch
    from bench.plugins.conformance import run_checks

    suites: dict[str, Callable[[Callable[[], object]], list[CheckResult]]] = {
        "methods": run_checks, "datasets": dataset_conformance.run_checks}
    console = Console()
    failed = False
    kind, targets = _targets(target)
    for selector, cls in targets.items():
        params = parse_selector(selector).params if "[" in selector else {}
        try:
            cls(**params)
        except ParamError as error:
            raise typer.BadParameter(str(error)) from None
        results = suites[kind](lambda cls=cls, params=params: cls(**params))
        console.print(_table(f"{TITLES[kind]}: {selector}", results))
        failed |= any(r.status == "fail" for r in results)
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Mount ``check-plugin`` on the bench CLI."""
    app.command("check-plugin")(check_plugin)
