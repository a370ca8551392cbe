"""scipy.sparse (~0.15 s to import) loads only when sparse labels are built or read: plugin discovery and a
dense ``bench run`` never import it (each checked in a fresh process), a sparse dataset still loads and
runs, and the numpy-only paths for dense labels equal the CSR ones value for value."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from bench.labels.encoding import canonical_csr, canonical_csr_arrays, is_sparse
from bench.labels.manifest import manifest_sha256
from bench.metrics.entries import canonical_entry_scores, entry_scores

PROBE = """
import atexit, json, sys
atexit.register(lambda: print("SPARSE=" + json.dumps("scipy.sparse" in sys.modules), file=sys.stderr))
args = json.loads(sys.argv[1])
if args == ["discover"]:
    from bench.plugins.registry import discover
    discover()
else:
    sys.argv = ["bench", *args]
    from bench.cli.app import main
    main()
"""  # atexit: bench ends through exit_process, which runs the atexit handlers and then os._exit


def probe(args: list[str], tmp_path) -> tuple[int, str, bool]:
    """(exit code, stdout + stderr, whether scipy.sparse was imported) of ``args`` in a fresh process."""
    env = {**os.environ, "BENCH_STORE": str(tmp_path / "bench.db"), "BENCH_CACHE_DIR": str(tmp_path / "cache"),
           "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, env=env,
                          timeout=600)
    lines = done.stderr.splitlines()
    sparse = json.loads(next(line for line in lines if line.startswith("SPARSE="))[len("SPARSE="):])
    return done.returncode, done.stdout + done.stderr, sparse


def test_plugin_discovery_imports_no_scipy_sparse(tmp_path):
    code, output, sparse = probe(["discover"], tmp_path)
    assert code == 0, output
    assert not sparse, "importing the plugins (every dataset file) imported scipy.sparse"


def test_a_dense_run_imports_no_scipy_sparse(tmp_path):
    code, output, sparse = probe(["run", "--method", "negative", "--dataset", "scene", "-q", "--force"], tmp_path)
    assert code == 0 and "done" in output, output
    assert not sparse, "a run on dense labels (scene) imported scipy.sparse"


def test_a_sparse_dataset_still_loads_and_runs(tmp_path):
    dataset = f"openimages-sim[root={tmp_path / 'oisim'},train_rows=300,test_rows=200,num_classes=40,dim=8]"
    code, output, sparse = probe(["run", "--method", "negative", "--dataset", dataset, "--epochs", "2", "-q"],
                                 tmp_path)
    assert code == 0 and "done" in output and "mAP(C)" in output, output
    assert sparse


def test_is_sparse_needs_no_import_and_knows_every_format():
    dense = np.array([[1, 0], [-1, 1]], dtype=np.int8)
    assert not is_sparse(dense) and not is_sparse([[1, 0]])
    for fmt in ("csr", "csc", "coo", "lil", "dok", "bsr"):
        assert is_sparse(sp.csr_array(dense).asformat(fmt))
        assert is_sparse(sp.csr_matrix(dense).asformat(fmt))


DENSE_CASES = {
    "random": np.random.default_rng(0).choice(np.array([1, 0, -1], dtype=np.int8), size=(37, 11), p=[0.2, 0.5, 0.3]),
    "empty rows": np.array([[0, 0, 0], [1, 0, -1], [0, 0, 0]], dtype=np.int8),
    "unannotated": np.zeros((4, 3), dtype=np.int8),
    "no rows": np.zeros((0, 5), dtype=np.int8),
    "float input": np.array([[1.0, -1.0], [0.0, 1.0]]),
}


@pytest.mark.parametrize("name", list(DENSE_CASES))
def test_canonical_csr_arrays_equal_canonical_csr(name):
    labels = DENSE_CASES[name]
    csr = canonical_csr(labels)
    for given in (labels, sp.csr_array(labels), sp.coo_matrix(labels)):
        arrays = canonical_csr_arrays(given)
        assert arrays.shape == csr.shape
        assert np.array_equal(arrays.indptr, csr.indptr) and np.array_equal(arrays.indices, csr.indices)
        assert arrays.data.dtype == np.int8 and np.array_equal(arrays.data, csr.data)


@pytest.mark.parametrize("name", list(DENSE_CASES))
def test_manifest_digest_is_the_same_for_the_dense_and_the_sparse_form(name):
    labels = DENSE_CASES[name]
    index = np.arange(labels.shape[0], dtype=np.int64)
    meta = {"dataset": name}
    assert manifest_sha256(meta, index, index[:0], labels) == manifest_sha256(meta, index, index[:0],
                                                                               sp.csr_array(labels))


@pytest.mark.parametrize("name", list(DENSE_CASES))
def test_canonical_entry_scores_equal_entry_scores_of_the_canonical_csr(name):
    labels = DENSE_CASES[name]
    scores = np.random.default_rng(1).random(labels.shape).astype(np.float32)
    expected = entry_scores(scores, canonical_csr(labels))
    for given in (labels, sp.csr_array(labels)):
        got = canonical_entry_scores(scores, given)
        assert got.dtype == expected.dtype and np.array_equal(got, expected)


def test_canonical_entry_scores_refuse_a_shape_mismatch():
    with pytest.raises(ValueError, match="does not match labels shape"):
        canonical_entry_scores(np.zeros((2, 2)), np.ones((3, 2), dtype=np.int8))
