"""A dataset's data folder given once: ``bench data root`` and ``$BENCH_DATA`` fill in a missing root."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli.app import app
from bench.core.user_config import UserConfigError, data_roots, save_data_root
from bench.runs.data_roots import MissingRootError
from bench.runs.resolve import prepare, resolve_dataset
from tests.datasets.loader_fixtures import write_lvis

OPTIONS = "verify=off,check_images=header"


@pytest.fixture(autouse=True)
def user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config" / "bench.yaml"
    monkeypatch.setenv("BENCH_CONFIG", str(path))
    monkeypatch.delenv("BENCH_DATA", raising=False)
    return path


def test_missing_root_names_every_way_and_the_layout():
    with pytest.raises(MissingRootError) as caught:
        prepare(resolve_dataset(f"lvis[{OPTIONS}]"))
    message = str(caught.value)
    assert "root=/path" in message and "BENCH_DATA=/data" in message and "/data/lvis/" in message
    assert "bench data root lvis /path" in message
    assert "annotations/lvis_v1_train.json" in message and "train2017/" in message


def test_bench_data_fills_the_conventional_subfolder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write_lvis(tmp_path / "data" / "lvis")
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "data"))
    resolved = resolve_dataset(f"lvis[{OPTIONS}]")
    assert resolved.plugin.root == str(tmp_path / "data" / "lvis")
    assert f"root={tmp_path / 'data' / 'lvis'}" in resolved.label
    assert prepare(resolved).data.num_classes == 3


def test_bench_data_without_the_subfolder_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BENCH_DATA", str(tmp_path))
    with pytest.raises(MissingRootError, match=r"root .*lvis \(BENCH_DATA=.*\) is not a folder"):
        prepare(resolve_dataset(f"lvis[{OPTIONS}]"))


def test_stored_root_wins_over_bench_data_and_selector_root_wins_over_both(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch):
    write_lvis(tmp_path / "mine")
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "elsewhere"))
    save_data_root("lvis", str(tmp_path / "mine"))
    assert resolve_dataset(f"lvis[{OPTIONS}]").plugin.root == str(tmp_path / "mine")
    assert resolve_dataset(f"lvis[root=/given,{OPTIONS}]").plugin.root == "/given"


def test_datasets_with_a_fallback_root_are_untouched_by_bench_data(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path):
    monkeypatch.setenv("BENCH_DATA", str(tmp_path))
    resolved = resolve_dataset("scene")
    assert resolved.label == "scene"
    assert prepare(resolved).data.num_classes == 6


def test_cli_stores_lists_and_removes_a_root(tmp_path: Path, user_config: Path):
    write_lvis(tmp_path / "coco2017")
    runner = CliRunner()
    result = runner.invoke(app, ["data", "root", "lvis", str(tmp_path / "coco2017")])
    assert result.exit_code == 0, result.output
    assert data_roots() == {"lvis": str((tmp_path / "coco2017").resolve())}
    listing = runner.invoke(app, ["data", "root"])
    assert f"lvis: {(tmp_path / 'coco2017').resolve()}" in listing.output
    run = runner.invoke(app, ["data", "info", f"lvis[{OPTIONS}]"])
    assert run.exit_code == 0, run.output
    assert runner.invoke(app, ["data", "root", "lvis", "--unset"]).exit_code == 0
    assert data_roots() == {}


def test_cli_refuses_a_missing_folder_and_a_dataset_without_root(tmp_path: Path):
    runner = CliRunner()
    missing = runner.invoke(app, ["data", "root", "lvis", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "is not a folder" in missing.output
    rootless = runner.invoke(app, ["data", "root", "features", str(tmp_path)])
    assert rootless.exit_code == 2 and "reads no root folder" in rootless.output


def test_malformed_user_config_is_one_line_naming_the_file(user_config: Path):
    user_config.parent.mkdir(parents=True)
    user_config.write_text("data_roots: [unclosed\n")
    with pytest.raises(UserConfigError, match=r"user config .*bench.yaml line \d+: not valid YAML"):
        data_roots()
    user_config.write_text("data_roots: {lvis: 3}\n")
    with pytest.raises(UserConfigError, match="'data_roots' must map dataset names"):
        data_roots()
