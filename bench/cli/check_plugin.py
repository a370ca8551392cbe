"""``bench check-plugin PATH_OR_NAME``: run the conformance checks (bench/plugins/conformance.py) on one
method plugin file or one registered method selector, print a table, exit 1 on any failure."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from bench.plugins.conformance import CheckResult, run_checks
from bench.core.params import ParamError
from bench.plugins.registry import METHODS, UnknownPluginError, load_plugin_file
from bench.plugins.selectors import SelectorError, parse_selector

STYLE = {"pass": "green", "fail": "bold red", "skip": "yellow"}


def _targets(target: str) -> dict[str, type]:
    """Selector -> method class for a plugin file (every method it registers) or a selector."""
    path = Path(target)
    if path.suffix == ".py" or path.exists():
        if not path.is_file():
            raise typer.BadParameter(f"{target}: no such plugin file")
        module = load_plugin_file(path, "methods")
        if module is None:
            error = METHODS.failed.get(str(path.resolve()), "import failed").splitlines()[-1]
            raise typer.BadParameter(f"{target}: the plugin failed to import: {error}")
        found = {name: cls for name, cls in METHODS.classes().items() if cls.__module__ == module.__name__}
        if not found:
            raise typer.BadParameter(f"{target}: registers no method (use @register_method)")
        return found
    try:
        return {target: METHODS.get(parse_selector(target).name)}
    except (UnknownPluginError, SelectorError) as error:
        raise typer.BadParameter(str(error)) from None


def _table(selector: str, results: list[CheckResult]) -> Table:
    table = Table(title=f"conformance: {selector}")
    for column in ("check", "status", "detail"):
        table.add_column(column)
    for result in results:
        table.add_row(result.check, f"[{STYLE[result.status]}]{result.status}[/]", result.detail)
    return table


def check_plugin(target: str = typer.Argument(..., help="a method plugin file (.py) or a method selector")) -> None:
    """Run the method conformance checks on a plugin file or registered method.

    Example: bench check-plugin 'selective[topk_scope=sample]'   or   bench check-plugin my_loss.py
    """
    console = Console()
    failed = False
    for selector, cls in _targets(target).items():
        params = parse_selector(selector).params if "[" in selector else {}
        try:
            cls(**params)
        except ParamError as error:
            raise typer.BadParameter(str(error)) from None
        results = run_checks(lambda cls=cls: cls(**params))
        console.print(_table(selector, results))
        failed |= any(r.status == "fail" for r in results)
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Mount ``check-plugin`` on the bench CLI."""
    app.command("check-plugin")(check_plugin)
