"""One error model: every bench error is a ``BenchError`` with an exit code; anything else is an
internal error printed as one line with the --debug hint."""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from typer.testing import CliRunner

import bench
from bench.cli import app as cli_app
from bench.cli import results as cli_results
from bench.cli import show as cli_show
from bench.core.errors import BenchError, InputError, RunError
from bench.store import Store

SIGNALS = {"CheckSkipped", "_NotHexIds"}  # control flow inside one module, never shown to a user


def _bench_modules():
    for info in pkgutil.walk_packages(bench.__path__, "bench."):
        if info.name.endswith("ray_executor"):
            continue  # imports the optional ray extra
        yield importlib.import_module(info.name)


def test_every_exception_class_of_the_engine_is_a_bench_error():
    found = {}
    for module in _bench_modules():
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, Exception) and not issubclass(obj, Warning) \
                    and obj.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = obj
    assert len(found) >= 25
    strays = [name for name, cls in found.items() if not issubclass(cls, BenchError) and cls.__name__ not in SIGNALS]
    assert not strays


def test_input_errors_are_value_errors_and_run_errors_runtime_errors():
    assert issubclass(InputError, ValueError) and InputError.exit_code == 2
    assert issubclass(RunError, RuntimeError) and RunError.exit_code == 1
    assert InputError("a\n  b").one_line() == "a b"


class _NoRuns:
    """A store stand-in whose ``get_run`` finds nothing (the patched ``print_record`` decides)."""

    def get_run(self, run_id):
        return None


@pytest.mark.parametrize("raised, code, line", [
    (InputError("bad field 'x'\nin file y"), 2, "error: bad field 'x' in file y"),
    (RunError("training diverged"), 1, "error: training diverged"),
    (KeyError("zzz"), 1, "internal error: KeyError: 'zzz' (run with --debug for the traceback)"),
])
def test_the_cli_prints_one_line_with_the_exit_code_of_the_error(monkeypatch, raised, code, line):
    def boom(*args, **kwargs):
        raise raised

    monkeypatch.setattr(cli_show, "print_record", boom)
    monkeypatch.setattr(cli_results, "existing_store", lambda path: _NoRuns())
    result = CliRunner().invoke(cli_app.app, ["show", "abc"])
    assert result.exit_code == code
    assert result.output.strip() == line
    debug = CliRunner().invoke(cli_app.app, ["--debug", "show", "abc"])
    assert debug.exception is raised


def test_an_unwritable_output_is_an_input_error_naming_it(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    store = tmp_path / "bench.db"
    Store(store)  # export reads an existing store
    result = CliRunner().invoke(cli_app.app, ["export", str(blocker / "runs.csv"), "--store", str(store)])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {blocker / 'runs.csv'}: cannot write:")


def test_the_cli_prints_a_warning_as_one_line(monkeypatch):
    import warnings

    def warns(*args, **kwargs):
        warnings.warn("starting over:\n  the last checkpoint is from an interrupted attempt", stacklevel=1)

    monkeypatch.setattr(cli_show, "print_record", warns)
    monkeypatch.setattr(cli_results, "existing_store", lambda path: _NoRuns())
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # restored after the test
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        result = CliRunner().invoke(cli_app.app, ["show", "abc"])
    assert result.exit_code == 0
    assert result.output == "warning: starting over: the last checkpoint is from an interrupted attempt\n"
