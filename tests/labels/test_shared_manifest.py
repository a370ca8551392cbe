"""A saved manifest used as a protocol: ``scene+manifest[path=m.npz]`` reproduces the split bit for bit."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bench.cli.app import app
from bench.labels.encoding import to_dense
from bench.labels.manifest import Manifest, ManifestError
from bench.runs.config import RunConfig, resolve_config
from bench.runs.resolve import get_dataset


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "fpc.npz"
    result = CliRunner().invoke(app, ["data", "prepare", "scene+fpc[n_s=50]", "--split-seed", "3", "--out", str(path)])
    assert result.exit_code == 0, result.output
    return path


def test_a_saved_manifest_gives_the_same_split_bit_for_bit(saved: Path):
    original = get_dataset("scene+fpc[n_s=50]", split_seed=3)
    shared = get_dataset(f"scene+manifest[path={saved}]", split_seed=3)
    assert shared.manifest.sha256 == original.manifest.sha256 == Manifest.load(saved).sha256
    for split in ("train", "val"):
        assert np.array_equal(shared.rows(split), original.rows(split))
        assert np.array_equal(to_dense(shared.labels(split)), to_dense(original.labels(split)))


def test_the_expected_sha256_is_checked(saved: Path):
    sha = Manifest.load(saved).sha256
    assert get_dataset(f"scene+manifest[path={saved},sha256={sha}]", split_seed=3).manifest.sha256 == sha
    with pytest.raises(ManifestError, match="is not the expected 0000"):
        get_dataset(f"scene+manifest[path={saved},sha256=0000]", split_seed=3)


def test_a_different_split_seed_or_dataset_is_refused(saved: Path, tmp_path: Path):
    with pytest.raises(ManifestError, match="built with split_seed 3 and val_fraction 0.2; run with the same"):
        get_dataset(f"scene+manifest[path={saved}]", split_seed=0)
    manifest = Manifest.load(saved)
    dense = to_dense(manifest.labels).copy()
    row, col = np.argwhere(dense != 0)[0]
    dense[row, col] = -dense[row, col]
    other = Manifest(**{**{k: getattr(manifest, k) for k in ("dataset", "class_names", "protocol", "protocol_params",
                                                           "split_seed", "val_fraction", "val_carve", "train_index",
                                                           "val_index")}, "labels": dense, "sha256": ""})
    forged = Manifest(**{**other.__dict__, "sha256": other.compute_sha256()})
    forged.save(tmp_path / "forged.npz")
    with pytest.raises(ManifestError, match=f"training row {row}, class .* in the manifest but not in this dataset"):
        get_dataset(f"scene+manifest[path={tmp_path / 'forged.npz'}]", split_seed=3)


def test_an_altered_file_and_a_foreign_class_list_are_refused(saved: Path, tmp_path: Path):
    manifest = Manifest.load(saved)
    renamed = Manifest(**{**manifest.__dict__, "class_names": ["x", *manifest.class_names[1:]], "sha256": ""})
    Manifest(**{**renamed.__dict__, "sha256": renamed.compute_sha256()}).save(tmp_path / "renamed.npz")
    with pytest.raises(ManifestError, match="class list differs from the dataset's at class 0 \\('x'"):
        get_dataset(f"scene+manifest[path={tmp_path / 'renamed.npz'}]", split_seed=3)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(saved.read_bytes()[:100])
    with pytest.raises(ManifestError, match="not a readable bench manifest"):
        get_dataset(f"scene+manifest[path={broken}]", split_seed=3)


def test_the_run_hash_follows_the_file_content(saved: Path, tmp_path: Path):
    first = resolve_config(RunConfig("negative", f"scene+manifest[path={saved}]", split_seed=3))
    copy = tmp_path / "copy.npz"
    copy.write_bytes(saved.read_bytes())
    assert resolve_config(RunConfig("negative", f"scene+manifest[path={copy}]", split_seed=3)).config[
        "protocol"]["file_sha256"] == first.config["protocol"]["file_sha256"]


def test_a_manifest_given_to_files_points_to_the_manifest_protocol(saved: Path):
    from bench.labels.files import PartialLabelFileError

    with pytest.raises(PartialLabelFileError, match=r"this is a bench manifest .* use it as \+manifest\[path="):
        get_dataset(f"scene+files[path={saved}]")
