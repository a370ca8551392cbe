"""``LabelStore.batch`` at B=64, C=9,600 (OpenImages scale, ~1% annotated) on 200,000 training rows:
the sparse store (vectorised CSR gather + scatter) against the dense int8 tensor store (a plain
row gather) and against a Python loop over the batch rows of the CSR. Goal: the sparse batch costs
well under a millisecond (a training step on such a batch costs tens of milliseconds); compare the
rows of group ``label-store-B64-C9600``.
Run: ``OMP_NUM_THREADS=1 python -m pytest benchmarks/test_label_store_speed.py``.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from bench.labels.store import LabelStore

ROWS, CLASSES, BATCH, ANNOTATED = 200_000, 9600, 64, 0.01


@pytest.fixture(scope="module")
def labels() -> sp.csr_array:
    """1,000 random rows (~1% annotated each, 30% of them positive) repeated to ROWS rows."""
    rng = np.random.default_rng(0)
    block = rng.binomial(CLASSES, ANNOTATED, size=1000)
    per_row = np.tile(block, ROWS // 1000)
    indptr = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int64)
    indices = np.concatenate([np.sort(rng.choice(CLASSES, size=n, replace=False)) for n in block])
    indices = np.tile(indices, ROWS // 1000).astype(np.int32)
    csr = sp.csr_array((np.where(rng.random(indptr[-1]) < 0.3, 1, -1).astype(np.int8), indices, indptr),
                       shape=(ROWS, CLASSES))
    csr.sort_indices()
    return csr


@pytest.fixture(scope="module")
def index() -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(1).choice(ROWS, size=BATCH, replace=False))


def _row_loop(csr: sp.csr_array, index: torch.Tensor) -> torch.Tensor:
    out = np.zeros((len(index), CLASSES), dtype=np.int8)
    for i, row in enumerate(index.tolist()):
        start, end = csr.indptr[row], csr.indptr[row + 1]
        out[i, csr.indices[start:end]] = csr.data[start:end]
    return torch.from_numpy(out)


def test_same_batches(labels, index):
    dense, sparse = LabelStore(torch.from_numpy(labels[:20_000].toarray())), LabelStore(labels)
    small = index % 20_000
    assert torch.equal(sparse.batch(small), dense.batch(small))
    assert torch.equal(sparse.batch(index), _row_loop(labels, index))


@pytest.mark.benchmark(group="label-store-B64-C9600")
def test_batch_sparse(benchmark, labels, index):
    benchmark(LabelStore(labels).batch, index)


@pytest.mark.benchmark(group="label-store-B64-C9600")
def test_batch_dense(benchmark, labels, index):
    benchmark(LabelStore(torch.from_numpy(labels.toarray())).batch, index)


@pytest.mark.benchmark(group="label-store-B64-C9600")
def test_batch_row_loop(benchmark, labels, index):
    benchmark(_row_loop, labels, index)
