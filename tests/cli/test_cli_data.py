"""``bench data info`` / ``bench data prepare`` end to end through the CLI."""
from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from bench.cli.app import app
from bench.labels.encoding import label_counts
from bench.labels.manifest import Manifest

runner = CliRunner()


def feature_file(tmp_path):
    rng = np.random.default_rng(0)
    Y = (rng.random((50, 4)) < np.array([0.1, 0.3, 0.5, 0.7])).astype(np.int8)
    path = tmp_path / "f.npz"
    np.savez(path, X_train=rng.normal(size=(40, 3)), Y_train=Y[:40], X_test=rng.normal(size=(10, 3)), Y_test=Y[10:20],
             class_names=np.array(["rare", "low", "mid", "high"]))
    return path, Y[:40]


def test_info_shows_per_class_counts_and_spearman(tmp_path):
    path, Y = feature_file(tmp_path)
    result = runner.invoke(app, ["data", "info", f"features[path={path}]+fpc[n_s=3]", "--split-seed", "1",
                                 "--part", "all",
                                 "--rows", "0"])
    assert result.exit_code == 0, result.output
    assert "features[path=" in result.output and "+fpc[n_s=3]" in result.output
    assert "Spearman" in result.output and "true positives" in result.output
    for name, true_pos in zip(["rare", "low", "mid", "high"], Y.sum(axis=0)):
        line = next(row for row in result.output.splitlines() if f" {name} " in row)
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        assert cells[1:] == [name, str(min(3, true_pos)), "3", str(40 - min(3, true_pos) - 3), str(true_pos)]
    assert not list(tmp_path.glob("*.manifest.npz"))


def test_prepare_writes_a_manifest_that_reloads(tmp_path):
    path, Y = feature_file(tmp_path)
    out = tmp_path / "m" / "fpc.npz"
    result = runner.invoke(app, ["data", "prepare", f"features[path={path}]+fpc[n_s=3]", "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = Manifest.load(out)
    assert manifest.sha256 in result.output.replace("\n", "").replace("│", "").replace(" ", "")
    assert label_counts(manifest.labels).positives.tolist() == np.minimum(3, Y.sum(axis=0)).tolist()


def test_data_errors_exit_2_with_one_line(tmp_path):
    result = runner.invoke(app, ["data", "info", f"coco[root={tmp_path / 'absent'}]"])
    assert result.exit_code == 2
    assert f"root {tmp_path / 'absent'} is not a folder" in result.output and "Traceback" not in result.output
    assert "bench data root coco /path" in result.output
    result = runner.invoke(app, ["data", "info", "scene", "--part", "everything"])
    assert result.exit_code == 2, (result.output, result.exception)
