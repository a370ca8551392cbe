"""Reading runs from the command line: ``bench runs``, ``bench show`` (diagnostics, notes, the
reproduce command), ``bench store gc``, the Ctrl-C hint, and commands that must not create a store."""
from __future__ import annotations

import json
import shlex

import pytest
from typer.testing import CliRunner

from bench.cli.app import app
from bench.store import Store
from tests.helpers.plugins import temporary_plugins

runner = CliRunner()
QUICK = ["--epochs", "2", "--quiet"]
REPORTING = """
    import torch
    from bench import Method, Param, register_method

    @register_method("tmp-reporting")
    class Reporting(Method):
        parameters = {"interrupt_at": Param(-1)}

        def loss(self, logits, labels, state=None):
            if state is not None and state.step == self.interrupt_at:
                raise KeyboardInterrupt
            return torch.nn.functional.softplus(-logits * labels.float()).sum()

        def run_diagnostics(self):
            return {"coverage": {"share": 0.25, "summary": "coverage: 25.0% of un-annotated entries ignored"}}

        def run_notes(self):
            return ["coverage degenerated: nothing was ignored in class 3"]
"""


@pytest.fixture
def db(tmp_path):
    return tmp_path / "cli.db"


@pytest.fixture(autouse=True)
def _wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # rich tables on one line each


def cli(db, *args):
    return runner.invoke(app, [*args, "--store", str(db)])


def test_run_and_show_print_diagnostics_and_notes(tmp_path, monkeypatch, db):
    with temporary_plugins(tmp_path / "plugins", monkeypatch, {"methods/reporting.py": REPORTING}):
        ran = cli(db, "run", "--method", "tmp-reporting", "--dataset", "scene", *QUICK)
        assert ran.exit_code == 0, ran.output
        assert "coverage: 25.0% of un-annotated entries ignored" in ran.output
        assert "note: coverage degenerated: nothing was ignored in class 3" in ran.output
        (record,) = Store(db).runs()
        shown = cli(db, "show", record.id[:10])
        assert shown.exit_code == 0, shown.output
        assert "coverage: 25.0% of un-annotated entries ignored" in shown.output
        assert "note: coverage degenerated: nothing was ignored in class 3" in shown.output


def test_the_reproduce_command_recomputes_the_same_configuration(db):
    ran = cli(db, "run", "--method", "selective[likelihood_topk=3]", "--dataset", "scene+rpa[p=0.5]",
              "--seed", "2", "--val-fraction", "0.25", "--set", "patience=3", *QUICK)
    assert ran.exit_code == 0, ran.output
    (record,) = Store(db).runs()
    shown = cli(db, "show", record.id)
    (line,) = [line for line in shown.output.splitlines() if line.startswith("reproduce: ")]
    words = shlex.split(line.removeprefix("reproduce: "))
    assert words[:2] == ["bench", "run"] and "--seed" in words and "patience=3" in " ".join(words)
    again = cli(db, *words[1:])
    assert again.exit_code == 0, again.output
    assert f"already done as run {record.id[:12]}" in again.output  # same configuration hash


def test_runs_lists_status_reason_score_and_filters(db):
    assert cli(db, "run", "--method", "negative", "--dataset", "scene", *QUICK).exit_code == 0
    assert cli(db, "run", "--method", "ignore", "--dataset", "scene+rpa[p=0.5]", *QUICK).exit_code == 0
    store = Store(db)
    done = {r.method: r for r in store.runs()}
    failing = store.start_run(config={}, config_hash="f" * 64, method="wce", dataset="scene", seed=3, split_seed=1,
                              manifest_sha256="0" * 64, env={})
    store.fail_run(failing, "RuntimeError: boom\nsecond line")
    table = cli(db, "runs")
    assert table.exit_code == 0, table.output
    assert done["negative"].id[:12] in table.output and f"{done['negative'].metrics['map_c']:.2f}" in table.output
    assert "failed: RuntimeError: boom second line" in table.output and "3 / 1" in table.output
    rows = json.loads(cli(db, "runs", "--json").output)
    assert [r["status"] for r in rows] == ["done", "done", "failed"] and rows[2]["map_c"] is None
    assert rows[0]["age_s"] >= 0 and rows[0]["seed"] == 0

    def only(*args):
        return [r["method"] for r in json.loads(cli(db, "runs", "--json", *args).output)]

    assert only("--status", "failed") == ["wce"]
    assert only("--method", "ignore") == ["ignore"]
    assert only("--dataset", "scene") == ["negative", "ignore", "wce"]  # plugin name matches scene+rpa[...]
    assert only("--dataset", "scene+rpa[p=0.5]") == ["ignore"]
    assert only("--since", "1h") == ["negative", "ignore", "wce"] and only("--since", "2999-01-01") == []
    bad = cli(db, "runs", "--since", "yesterday")
    assert bad.exit_code == 2 and "give an age" in bad.output
    assert cli(db, "runs", "--status", "finished").exit_code == 2


def test_runs_reports_a_stale_run(db):
    store = Store(db)
    store.start_run(config={}, config_hash="a" * 64, method="negative", dataset="scene", seed=0, split_seed=0,
                    manifest_sha256="0" * 64, env={})
    with store._writing() as conn:  # a process on another host that stopped an hour ago
        conn.execute("UPDATE runs SET host = 'elsewhere', heartbeat_at = '2000-01-01T00:00:00+00:00'")
    (row,) = json.loads(cli(db, "runs", "--json").output)
    assert row["status"] == "stale"


def _stale_and_checkpoints(db, root):
    store = Store(db)
    assert cli(db, "run", "--method", "negative", "--dataset", "scene", *QUICK).exit_code == 0
    (done,) = store.runs()
    stale = store.start_run(config={}, config_hash="b" * 64, method="ignore", dataset="scene", seed=0, split_seed=0,
                            manifest_sha256="0" * 64, env={})
    live = store.start_run(config={}, config_hash="c" * 64, method="wce", dataset="scene", seed=0, split_seed=0,
                           manifest_sha256="0" * 64, env={})
    with store._writing() as conn:
        conn.execute("UPDATE runs SET host = 'elsewhere', heartbeat_at = '2000-01-01T00:00:00+00:00' WHERE id = ?",
                     (stale,))
    for name in (done.config_hash, "b" * 64, "c" * 64, "d" * 64):
        (root / name).mkdir(parents=True)
        (root / name / "last.pt").write_bytes(b"x" * 1000)
    return store, done, stale, live


def test_store_gc_fails_stale_runs_and_removes_finished_checkpoints(db, tmp_path, monkeypatch):
    root = tmp_path / "ckpt"
    monkeypatch.setenv("BENCH_CHECKPOINTS", str(root))
    store, done, stale, live = _stale_and_checkpoints(db, root)
    dry = cli(db, "store", "gc", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"would mark failed: run {stale[:12]}" in dry.output and "would remove" in dry.output
    assert store.get_run(stale).status == "stale" and (root / done.config_hash).is_dir()  # nothing changed
    applied = cli(db, "store", "gc")
    assert applied.exit_code == 0, applied.output
    assert store.get_run(stale).status == "failed" and "stale" in store.get_run(stale).error
    assert store.get_run(live).status == "running"
    assert sorted(p.name for p in root.iterdir()) == ["c" * 64, "d" * 64]  # live and unknown folders stay
    assert "2 checkpoint folder(s) removed (2.0 kB)" in applied.output


def test_ctrl_c_says_how_to_continue(tmp_path, monkeypatch, db):
    monkeypatch.setenv("BENCH_CHECKPOINTS", str(tmp_path / "ckpt"))
    args = ["run", "--method", "tmp-reporting[interrupt_at=1]", "--dataset", "scene", *QUICK]
    with temporary_plugins(tmp_path / "plugins", monkeypatch, {"methods/reporting.py": REPORTING}):
        first = cli(db, *args)
        assert first.exit_code == 130 and "no checkpoint was written" in first.output
        (record,) = Store(db).runs()
        assert record.status == "failed" and record.error == "interrupted"
        folder = tmp_path / "ckpt" / record.config_hash
        folder.mkdir(parents=True)
        (folder / "last.pt").write_bytes(b"checkpoint")
        second = cli(db, *args)
    assert second.exit_code == 130
    assert f"the last checkpoint is {folder / 'last.pt'}" in second.output and "--resume" in second.output


@pytest.mark.parametrize("command", [["show", "abc"], ["report"], ["runs"], ["export", "x.csv"], ["store", "gc"],
                                     ["report", "-d", "scene"]])
def test_readers_never_create_a_store(tmp_path, command):
    typo = tmp_path / "typo.db"
    result = runner.invoke(app, [*command, "--store", str(typo)])
    assert result.exit_code == 2 and f"no store at {typo}" in result.output
    assert not typo.exists()


def test_show_without_store_creates_no_results_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENCH_STORE")
    result = runner.invoke(app, ["show", "abc"])
    assert result.exit_code == 2 and "no store at results/bench.db" in result.output
    assert not (tmp_path / "results").exists()


def test_report_on_a_dataset_with_no_run_says_so(db):
    assert cli(db, "run", "--method", "negative", "--dataset", "scene", *QUICK).exit_code == 0
    result = cli(db, "report", "-d", "nosuch")
    assert result.exit_code == 2 and "no run matches --dataset nosuch" in result.output and "scene" in result.output


def test_export_refuses_an_unknown_format(db, tmp_path):
    assert cli(db, "run", "--method", "negative", "--dataset", "scene", *QUICK).exit_code == 0
    for name in ("runs.txt", "runs"):
        result = cli(db, "export", str(tmp_path / name))
        assert result.exit_code == 2 and "unknown export format" in result.output
        assert not (tmp_path / name).exists()
    xlsx = cli(db, "export", str(tmp_path / "runs.xlsx"))
    try:
        import openpyxl
    except ImportError:
        assert xlsx.exit_code == 2 and "needs openpyxl" in xlsx.output and not (tmp_path / "runs.xlsx").exists()
    else:
        assert xlsx.exit_code == 0 and openpyxl.load_workbook(tmp_path / "runs.xlsx").active.max_row == 2


def test_list_methods_shows_a_preset_as_its_differences():
    result = runner.invoke(app, ["list", "methods"])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "preset of p-asl:" in flat
    assert flat.count("prior_estimator='posthoc'") == 1  # declared once, on p-asl, not on each preset
