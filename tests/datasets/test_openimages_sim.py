"""openimages-sim at a small scale: generated once into root, then read back (CSR labels, memory-mapped
features); deterministic; long-tailed; ~1% annotated; named as a simulation; passes conformance."""
from __future__ import annotations

import hashlib
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from bench.core.errors import BenchError
from bench.plugins.dataset_conformance import run_checks
from bench.plugins.registry import DATASETS

SMALL = {"train_rows": 4000, "test_rows": 2500, "num_classes": 500, "dim": 16}
oisim = sys.modules[DATASETS.get("openimages-sim").__module__]


def make(root, **params):
    return DATASETS.get("openimages-sim")(root=str(root), **{**SMALL, **params})


def _digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("oisim")
    return root, make(root).load()


def test_shapes_storage_and_annotation_rate(generated):
    _, data = generated
    train, test = data.train, data.test
    assert train.labels.shape == (4000, 500) and test.labels.shape == (2500, 500) and data.num_classes == 500
    assert sp.issparse(train.labels) and train.labels.data.dtype == np.int8 and train.labels.has_canonical_format
    assert set(np.unique(train.labels.data)) == {-1, 1}  # only annotated entries are stored
    assert isinstance(train.features, np.memmap) and train.features.shape == (4000, 16)
    assert train.features.dtype == np.float32 and np.isfinite(train.features).all()
    rate = train.labels.nnz / np.prod(train.labels.shape)
    assert 0.008 < rate < 0.03 and not data.fully_labelled  # 1.0% at the full 9,600 classes


def test_class_frequencies_are_long_tailed(generated):
    _, data = generated
    positives = np.bincount(data.train.labels.indices[data.train.labels.data == 1], minlength=500)
    assert positives[0] > 1500 and positives[-50:].mean() < 20  # 0.9 * f_c * rows: 1,800 and ~13
    assert np.corrcoef(np.log1p(positives), np.log(np.arange(1, 501)))[0, 1] < -0.9


def test_named_as_a_simulation(generated):
    _, data = generated
    assert DATASETS.get("openimages-sim").description.startswith("SIMULATED")
    assert data.meta["simulated_features"] and data.meta["simulated_labels"]


def test_generation_is_deterministic_and_cached(generated, tmp_path):
    root, data = generated
    folder = next(root.glob("openimages-sim-*"))
    again = make(tmp_path).load()
    assert _digest(next(tmp_path.glob("openimages-sim-*"))) == _digest(folder)
    assert (again.train.labels != data.train.labels).nnz == 0
    assert np.array_equal(np.asarray(again.test.features), np.asarray(data.test.features))
    stamp = (folder / "meta.json").stat().st_mtime_ns
    make(root).load()  # read back, not regenerated
    assert (folder / "meta.json").stat().st_mtime_ns == stamp
    other = make(tmp_path, seed=1).load()
    assert (other.train.labels != data.train.labels).nnz > 0


def test_bernoulli_rows_matches_its_rate():
    rng = np.random.default_rng(0)
    drawn = oisim.bernoulli_rows(rng, 1_000_000, 0.01)
    assert np.all(np.diff(drawn) > 0) and drawn.max() < 1_000_000 and abs(drawn.size - 10_000) < 400


def test_root_is_required():
    with pytest.raises(BenchError, match="root"):
        DATASETS.get("openimages-sim")().load()


def test_conforms_when_generated(generated):
    root, _ = generated
    results = {r.check: r for r in run_checks(lambda: make(root))}
    assert {c: r.detail for c, r in results.items() if r.status == "fail"} == {}
    assert results["load"].status == "pass" and results["determinism"].status == "pass"
