"""The ``bench`` command line (Typer + rich).

This module holds the app, its error handling and ``list``; every other command group is a module
``bench/cli/<topic>.py`` that exposes ``register(app)`` (mounted automatically: ``run``; ``show``,
``report``, ``export`` in ``results``; ``sweep``; ``data``; ``check-plugin``; ``store``). Exit codes: 0 ok,
1 run failure, 2 usage error (unknown or ill-typed option, method, dataset, parameter, bad labels,
unusable store), 130 interrupted. Errors are one line on stderr; ``bench --debug ...`` shows the
traceback instead.
"""
from __future__ import annotations

import importlib
import pkgutil
import warnings
from enum import Enum
from typing import Any

import typer
from typer.core import TyperGroup

import bench.cli
from bench.cli._process_exit import exit_process
from bench.cli.common import err, out
from bench.core.errors import EXIT_FAILED, EXIT_INTERRUPTED, BenchError


class BenchGroup(TyperGroup):
    """Turns exceptions into one-line errors and exit codes (tracebacks with ``--debug``)."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except KeyboardInterrupt:
            err.print("interrupted", style="yellow")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            if isinstance(exc, BenchError):
                message, code = f"error: {exc.one_line()}", exc.exit_code
            else:
                text = " ".join(str(exc).split())
                message = (f"internal error: {type(exc).__name__}{': ' + text if text else ''} "
                           "(run with --debug for the traceback)")
                code = EXIT_FAILED
            err.print(message, style="red", markup=False, highlight=False)
            raise typer.Exit(code) from None


app = typer.Typer(
    cls=BenchGroup, name="bench", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Benchmark harness and leaderboards for multi-label classification with partial annotations.",
    epilog="Example: bench run --method negative --dataset 'scene+rpa[p=0.5]' && bench report",
)


def one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                     file: Any = None, line: str | None = None) -> None:
    """``warnings.showwarning`` of the CLI: ``warning: <message>`` on one line, no source line."""
    err.print(f"warning: {' '.join(str(message).split())}", style="yellow", markup=False, highlight=False)


@app.callback()
def _options(ctx: typer.Context, debug: bool = typer.Option(False, "--debug", help="show tracebacks")) -> None:
    ctx.obj = {"debug": debug}
    if not debug:
        warnings.showwarning = one_line_warning


class Listable(str, Enum):
    methods = "methods"
    datasets = "datasets"
    protocols = "protocols"


@app.command("list", epilog="Example: bench list methods")
def list_plugins(what: Listable = typer.Argument(..., help="methods, datasets or protocols")) -> None:
    """List the installed methods, datasets or protocols with their parameters and defaults,
    and the plugins that failed to import with their error."""
    from bench.cli.listing import failed_lines, plugins_table, protocols_table
    from bench.plugins.index import plugin_index

    if what is Listable.protocols:
        out.print(protocols_table())
        return
    index = plugin_index(what.value)
    out.print(plugins_table(what.value, index))
    for line in failed_lines(what.value, index):
        out.print(line, style="red", markup=False, highlight=False)
    for module, error in sorted(FAILED_CLI_MODULES.items()):
        err.print(f"warning: CLI module bench.cli.{module} failed to import: {error}", markup=False)


FAILED_CLI_MODULES: dict[str, str] = {}


def mount_cli_modules(target: typer.Typer) -> None:
    """Mount every ``bench/cli/<topic>.py`` exposing ``register(app)`` (modules whose name starts
    with ``_`` are helpers, never imported here); record import failures."""
    for info in sorted(pkgutil.iter_modules(bench.cli.__path__), key=lambda i: i.name):
        if info.name == "app" or info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"bench.cli.{info.name}")
        except Exception as exc:  # noqa: BLE001 - a broken topic must not break the CLI
            FAILED_CLI_MODULES[info.name] = f"{type(exc).__name__}: {exc}"
            continue
        register = getattr(module, "register", None)
        if callable(register):
            register(target)


mount_cli_modules(app)


def main() -> None:
    """Console-script entry point; the process ends through ``exit_process`` (no teardown of torch)."""
    try:
        app(prog_name="bench")
    except SystemExit as done:
        exit_process(done.code)
    exit_process(0)
