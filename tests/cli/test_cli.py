"""The CLI end to end in-process (typer's CliRunner): run, skip, report, show, export, list, errors
and exit codes."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.cli.app import app
from bench.store import Store
from tests.helpers.plugins import temporary_plugins

FAST = ["--epochs", "3", "--batch-size", "128", "--lr", "0.003"]
RUN = ["run", "--method", "negative", "--dataset", "scene+rpa[p=0.5]", *FAST]


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_STORE", str(tmp_path / "cli.db"))
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_run_twice_then_report_show_export(cli, tmp_path):
    first = cli(*RUN)
    assert first.exit_code == 0, first.output
    assert "done: negative on scene+rpa[p=0.5]" in first.output and "mAP(C)" in first.output
    second = cli(*RUN)
    assert second.exit_code == 0 and "skipped" in second.output and "--force" in second.output
    (record,) = Store(tmp_path / "cli.db").runs()
    assert record.id[:12] in first.output and record.id[:12] in second.output

    report = cli("report")
    assert report.exit_code == 0
    assert "## scene · rpa[p=0.5] · linear, " in report.output
    assert f"{record.metrics['map_c']:.2f} (n=1)" in report.output and "negative" in report.output
    assert cli("report", "--dataset", "scene+rpa[p=0.50]").output == report.output
    assert cli("report", "--dataset", "scene").output == report.output
    unmatched = cli("report", "--dataset", "coco")
    assert unmatched.exit_code == 2 and "no run matches --dataset coco" in unmatched.output

    shown = cli("show", record.id[:8])
    assert shown.exit_code == 0 and record.id in shown.output and "Beach" in shown.output
    assert "scene+rpa[p=0.5]" in shown.output  # not eaten as rich markup
    as_json = json.loads(cli("show", record.id[:8], "--json").output)
    assert as_json["config_hash"] == record.config_hash and as_json["status"] == "done"

    forced = cli(*RUN, "--force", "--quiet")
    assert forced.exit_code == 0 and "done" in forced.output
    assert cli("export", str(tmp_path / "runs.csv")).exit_code == 0
    assert len(pd.read_csv(tmp_path / "runs.csv")) == 2
    assert cli("export", str(tmp_path / "runs.parquet"), "--latest").exit_code == 0
    assert len(pd.read_parquet(tmp_path / "runs.parquet")) == 1


@pytest.mark.parametrize("args, message", [
    (["run", "--method", "negatve"], "unknown method 'negatve' (did you mean 'negative'?)"),
    (["run", "--method", "negative[gamma_neg=abc]"], "parameter 'gamma_neg' expects float, got 'abc'"),
    (["run", "--method", "negative[gama_neg=1]"], "did you mean 'gamma_neg'?"),
    (["run", "--method", "negative", "--dataset", "scnee"], "did you mean 'scene'?"),
    (["run", "--method", "negative", "--dataset", "scene+rpb[p=0.5]"], "did you mean 'rpa'?"),
    (["run", "--method", "negative", "--dataset", "scene+rpa"], "parameter(s) p required"),
    (["run", "--method", "negative", "--mode", "finetune"], "trains image backbones; dataset 'scene' has features"),
    (["run", "--method", "negative", "--select-on", "best"], "select_on must be one of val, last, test"),
    (["run", "--method", "negative[", "--dataset", "scene"], "expected it to end with"),
    (["show", "ffffffffff"], "no store at"),
    (["run", "--method", ""], "is empty: give a selector"),
    (["run", "--method", "  ", "--dataset", "scene"], "is empty: give a selector"),
    (["run", "--dataset", ""], "is empty: give a selector"),
])
def test_usage_errors_exit_2_with_one_line(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_click_usage_errors_exit_2(cli):
    assert cli("run", "--epochs", "many").exit_code == 2
    assert cli("run", "--no-such-option").exit_code == 2
    assert cli("list", "things").exit_code == 2


def test_debug_shows_the_exception(cli):
    result = cli("--debug", "run", "--method", "negatve")
    assert result.exit_code != 0 and "did you mean" in str(result.exception)


def test_run_failure_exits_1(cli, tmp_path, monkeypatch):
    plugin = """
        from bench import Method, register_method

        @register_method("tmp-raises")
        class Raises(Method):
            def loss(self, logits, labels, state=None):
                raise ZeroDivisionError("no loss today")
    """
    with temporary_plugins(tmp_path / "plugins", monkeypatch, {"methods/raises.py": plugin}):
        result = cli("run", "--method", "tmp-raises", *FAST)
    assert result.exit_code == 1
    assert "failed: ZeroDivisionError: no loss today" in result.output
    (record,) = Store(tmp_path / "cli.db").runs()
    assert record.status == "failed" and "no loss today" in record.error


def test_from_official_args(cli, tmp_path):
    result = cli("run", "--from-official-args", "--partial_loss_mode ignore --gamma_neg 0 --gamma_unann 0 "
                 "--simulate_partial_type rps --simulate_partial_param 0.5 --lr 2e-4", "--dataset", "scene", *FAST)
    assert result.exit_code == 0, result.output
    assert "--method 'ignore' --dataset 'scene+rpa[p=0.5]'" in result.output and "note:" in result.output
    (record,) = Store(tmp_path / "cli.db").runs()
    assert (record.method, record.dataset) == ("ignore", "scene+rpa[p=0.5]")
    clash = cli("run", "--from-official-args", "--simulate_partial_type fpc --simulate_partial_param 10",
                "--dataset", "scene+rpa[p=0.5]")
    assert clash.exit_code == 2 and "fpc[n_s=10]" in clash.output
    both = cli("run", "--method", "negative", "--from-official-args", "")
    assert both.exit_code == 2


def test_list_shows_parameters_and_defaults(cli):
    methods = cli("list", "methods")
    assert methods.exit_code == 0 and "negative" in methods.output and "reduction='sum'" in methods.output
    assert "not offered: SE-LS" in " ".join(methods.output.split())  # named, with the reason
    datasets = cli("list", "datasets")
    assert datasets.exit_code == 0 and "scene" in datasets.output and "features" in datasets.output
    protocols = cli("list", "protocols")
    assert "rpa" in protocols.output and "p=<required>" in protocols.output


@pytest.mark.parametrize("command", ["run", "list", "show", "report", "export", "check-plugin"])
def test_every_command_has_help_with_an_example(cli, command):
    result = cli(command, "--help")
    assert result.exit_code == 0 and "Example" in result.output


def test_top_level_help(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("run", "list", "show", "report", "export"):
        assert command in result.output


def test_cli_modules_are_mounted_and_failures_reported(monkeypatch):
    import pkgutil
    import sys
    import types

    import typer

    import bench.cli.app as cli_module

    topic = types.ModuleType("bench.cli.tmp_topic")
    topic.register = lambda target: target.command("tmp-topic", epilog="Example: bench tmp-topic")(lambda: print("hi"))
    monkeypatch.setitem(sys.modules, "bench.cli.tmp_topic", topic)
    infos = [pkgutil.ModuleInfo(None, "tmp_topic", False), pkgutil.ModuleInfo(None, "tmp_missing", False),
             pkgutil.ModuleInfo(None, "app", False)]
    monkeypatch.setattr(cli_module.pkgutil, "iter_modules", lambda path: infos)
    monkeypatch.setattr(cli_module, "FAILED_CLI_MODULES", {})
    target = typer.Typer(cls=cli_module.BenchGroup)
    target.callback()(lambda: None)
    cli_module.mount_cli_modules(target)
    assert CliRunner().invoke(target, ["tmp-topic"]).output == "hi\n"
    assert "ModuleNotFoundError" in cli_module.FAILED_CLI_MODULES["tmp_missing"]
    listing = CliRunner().invoke(cli_module.app, ["list", "datasets"])
    assert "CLI module bench.cli.tmp_missing failed to import" in listing.output


BAD_DATA = """
    import numpy as np
    from bench import DatasetData, DatasetPlugin, Param, Split, register_dataset

    @register_dataset("tmp-bad")
    class Bad(DatasetPlugin):
        parameters = {"flaw": Param("value")}

        def load(self):
            x = np.zeros((10, 3), np.float32)
            train = np.ones((10, 2), np.int8)
            test = np.ones((10, 2), np.int8)
            if self.flaw == "value":
                test[4, 1] = 7
            elif self.flaw == "classes":
                test = np.ones((10, 3), np.int8)
            elif self.flaw == "train":
                train[2, 0] = 5
            return DatasetData("tmp-bad", ["a", "b"], Split(train, x), Split(test, x))
"""


@pytest.mark.parametrize("flaw, message", [
    ("value", "dataset 'tmp-bad' test labels: 1 label value(s) outside {1, -1, 0}; first at row 4, column 1: 7"),
    ("classes", "dataset 'tmp-bad' test labels: 3 classes, expected 2"),
    ("train", "dataset 'tmp-bad' training labels: 1 label value(s) outside {1, -1, 0}; first at row 2, column 0"),
])
def test_bad_labels_exit_2_and_store_nothing(cli, tmp_path, monkeypatch, flaw, message):
    with temporary_plugins(tmp_path / "plugins", monkeypatch, {"datasets/bad.py": BAD_DATA}):
        result = cli("run", "--method", "negative", "--dataset", f"tmp-bad[flaw={flaw}]", *FAST)
    assert result.exit_code == 2 and message in result.output, result.output
    assert Store(tmp_path / "cli.db").runs() == []


def test_unusable_store_exits_2(cli, tmp_path):
    result = cli("report", "--store", str(tmp_path))
    assert result.exit_code == 2 and "is a directory" in result.output
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a sqlite database" * 100)
    result = cli("run", "--method", "negative", "--store", str(garbage), *FAST)
    assert result.exit_code == 2 and str(garbage) in result.output and len(result.output.splitlines()) == 1


def test_run_without_method_runs_the_negative_baseline_and_says_so(cli, tmp_path):
    result = cli("run", "--dataset", "scene+rpa[p=0.5]", *FAST, "--quiet")
    assert result.exit_code == 0, result.output
    assert "no --method given: running the baseline 'negative'" in result.output
    (record,) = Store(tmp_path / "cli.db").runs()
    assert record.method == "negative" and record.status == "done"
