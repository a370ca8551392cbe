"""``LabelStore``: a dense tensor and a sparse CSR of the same labels give identical batches, identical
labels after the same ``set`` calls, round-trip through ``state_dict``, and whole runs on a sparse
dataset give the same results as on its dense twin; the sparse store stays far below dense size."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from bench.labels.encoding import to_dense
from bench.labels.sparse_rows import SparseLabelRows
from bench.labels.store import LabelStore
from bench.runs.config import RunConfig
from bench.runs.execute import execute
from bench.runs.recipe import Recipe
from bench.runs.resolve import get_dataset
from bench.store import Store
from tests.helpers.plugins import temporary_plugins


def _partial_labels(rows: int, classes: int, annotated: float, seed: int) -> np.ndarray:
    """Random partial labels with some all-empty rows."""
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((rows, classes)) < 0.5, 1, -1).astype(np.int8)
    dense[rng.random((rows, classes)) >= annotated] = 0
    dense[rng.choice(rows, size=rows // 5, replace=False)] = 0
    return dense


def _pair(dense: np.ndarray) -> tuple[LabelStore, LabelStore]:
    return LabelStore(torch.from_numpy(dense)), LabelStore(sp.csr_array(dense))


@pytest.mark.parametrize("annotated", [0.0, 0.05, 0.5, 1.0])
def test_sparse_batches_equal_dense_batches(annotated):
    dense = _partial_labels(200, 37, annotated, seed=1)
    store_d, store_s = _pair(dense)
    assert (store_s.num_rows, store_s.num_classes) == (store_d.num_rows, store_d.num_classes) == (200, 37)
    assert store_s.is_sparse and not store_d.is_sparse
    rng = np.random.default_rng(2)
    for size in (1, 7, 64, 200):
        index = torch.from_numpy(rng.choice(200, size=size, replace=size > 150))
        batch = store_s.batch(index)
        assert batch.dtype == torch.int8 and torch.equal(batch, store_d.batch(index))
        assert torch.equal(batch, torch.from_numpy(dense)[index])
    assert store_s.batch(torch.empty(0, dtype=torch.long)).shape == (0, 37)


def test_set_gives_identical_labels_and_change_counts():
    dense = _partial_labels(120, 23, 0.1, seed=3)
    store_d, store_s = _pair(dense)
    rng = np.random.default_rng(4)
    for step in range(60):  # enough writes to merge the overlay into the CSR more than once
        rows = torch.from_numpy(rng.integers(0, 120, size=40))
        cols = torch.from_numpy(rng.integers(0, 23, size=40))
        value = int(rng.choice([1, -1, 0]))
        store_d.set(rows, cols, value)
        store_s.set(rows, cols, value)
        assert store_s.changes == store_d.changes, step
        index = torch.from_numpy(rng.choice(120, size=16, replace=False))
        assert torch.equal(store_s.batch(index), store_d.batch(index)), step
    assert store_d.changes > 0
    assert np.array_equal(to_dense(store_s.labels), store_d.labels.numpy())


def test_overlay_is_merged_when_it_grows(monkeypatch):
    monkeypatch.setattr("bench.labels.sparse_rows.MIN_OVERLAY", 8)
    rows = SparseLabelRows(sp.csr_array(np.zeros((50, 10), dtype=np.int8)))
    rows.assign(np.arange(5), np.arange(5), 1)
    assert rows.keys.size == 5 and rows.data.size == 0
    rows.assign(np.arange(5, 10), np.zeros(5, dtype=np.int64), -1)
    assert rows.keys.size == 0 and rows.data.size == 10
    expected = np.zeros((50, 10), dtype=np.int8)
    expected[np.arange(5), np.arange(5)] = 1
    expected[np.arange(5, 10), 0] = -1
    assert np.array_equal(rows.rows(np.arange(50)), expected)


@pytest.mark.parametrize("sparse", [False, True])
def test_state_dict_round_trip_through_torch_save(tmp_path, sparse):
    dense = _partial_labels(60, 11, 0.2, seed=5)
    make = (lambda: LabelStore(sp.csr_array(dense))) if sparse else (lambda: LabelStore(torch.from_numpy(dense)))
    store = make()
    store.set(torch.tensor([0, 1, 2, 59]), torch.tensor([0, 3, 10, 10]), 1)
    torch.save(store.state_dict(), tmp_path / "labels.pt")
    restored = make()
    restored.load_state_dict(torch.load(tmp_path / "labels.pt", weights_only=True))
    everything = torch.arange(60)
    assert restored.changes == store.changes > 0
    assert torch.equal(restored.batch(everything), store.batch(everything))
    other = LabelStore(torch.from_numpy(dense)) if sparse else LabelStore(sp.csr_array(dense))
    with pytest.raises(ValueError, match="does not match"):
        other.load_state_dict(store.state_dict())


def test_openimages_scale_sparse_store_is_far_below_dense_size():
    rows, classes, per_row = 2_000_000, 9_600, 10  # ~0.1% annotated
    rng = np.random.default_rng(6)
    indptr = np.arange(0, rows * per_row + 1, per_row, dtype=np.int64)
    indices = np.sort(rng.integers(0, classes, size=(rows, per_row)).astype(np.int32), axis=1).reshape(-1)
    data = np.where(rng.random(rows * per_row) < 0.3, 1, -1).astype(np.int8)
    labels = sp.csr_array((data, indices, indptr), shape=(rows, classes))
    store = LabelStore(labels)
    del labels, indices, data
    stored = store._sparse
    held = stored.indptr.nbytes + stored.indices.nbytes + stored.data.nbytes
    assert held < rows * classes / 50  # 19.2 GB dense vs ~0.1 GB here
    index = torch.tensor([0, 1_999_999, 123_456])
    batch = store.batch(index)
    assert batch.shape == (3, classes) and int((batch != 0).sum()) <= 3 * per_row


FEATURE_DATASETS = """
    import numpy as np
    import scipy.sparse as sp
    from bench import DatasetData, DatasetPlugin, Split, register_dataset

    def _data(name, sparse):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(240, 6)).astype(np.float32)
        full = np.where(x[:, :5] + 0.3 * rng.normal(size=(240, 5)) > 0, 1, -1).astype(np.int8)
        train = full[:160].copy()
        train[rng.random(train.shape) < 0.6] = 0
        train[:10] = 0
        test = full[160:]
        wrap = sp.csr_array if sparse else np.asarray
        return DatasetData(name, list("abcde"), Split(wrap(train), x[:160]), Split(wrap(test), x[160:]),
                           fully_labelled=False)

    @register_dataset("tmp-labels-dense")
    class Dense(DatasetPlugin):
        modality = "features"
        def load(self):
            return _data("tmp-labels-dense", False)

    @register_dataset("tmp-labels-sparse")
    class Sparse(DatasetPlugin):
        modality = "features"
        def load(self):
            return _data("tmp-labels-sparse", True)
"""


@pytest.mark.parametrize("method", ["ll-cp[delta_rel=0.1]", "selective"])
def test_run_on_sparse_labels_matches_its_dense_twin(tmp_path, monkeypatch, method):
    recipe = Recipe(epochs=4, batch_size=32, lr=0.05)
    with temporary_plugins(tmp_path / "plugins", monkeypatch, {"datasets/twins.py": FEATURE_DATASETS}):
        store = Store(tmp_path / "runs.db")
        dense = execute(RunConfig(method, "tmp-labels-dense", recipe=recipe), store, progress=False).record
        sparse = execute(RunConfig(method, "tmp-labels-sparse", recipe=recipe), store, progress=False).record
        train_labels = get_dataset("tmp-labels-sparse").labels("train")
    assert sp.issparse(train_labels)  # the run's labels came in sparse and stayed sparse
    assert dense.metrics == sparse.metrics
    assert np.array_equal(dense.test_scores(), sparse.test_scores())
    assert dense.extra["label_changes"] == sparse.extra["label_changes"]
    assert (dense.extra["label_changes"] > 0) == method.startswith("ll-cp")
    untimed = [[{k: v for k, v in epoch.items() if k != "seconds"} for epoch in run.extra["history"]]
               for run in (dense, sparse)]
    assert untimed[0] == untimed[1]
