"""Samplers that turn a fully labelled matrix into partial labels (the protocols' mechanics).

Every sampler takes labels in our encoding (dense or sparse) and returns the same kind. The seeded
ones draw only ``Generator.random()`` float64 values, visiting entries in row-major order (the
canonical CSR order), so the dense and the sparse form of one matrix give identical results and
the bits depend on nothing but the generator's seed.
"""
from __future__ import annotations

import numpy as np

from bench.labels.encoding import LABEL_DTYPE, NEG, POS, LabelMatrix, canonical_csr, is_sparse

COLE_SEED = 1200
_BLOCK = 1 << 22


def drop_annotations(labels: LabelMatrix, p: float, rng: np.random.Generator) -> LabelMatrix:
    """Each stored entry independently set to UNANN when u < p, u one ``rng.random()`` draw per
    entry in row-major order (drawn in blocks of 2**22, the same stream as one draw)."""
    csr = canonical_csr(labels) if is_sparse(labels) else None
    out = csr.data if csr is not None else np.array(labels, dtype=LABEL_DTYPE)
    flat = out.reshape(-1)
    for start in range(0, flat.size, _BLOCK):
        block = flat[start : start + _BLOCK]
        block[rng.random(block.size) < p] = 0
    if csr is None:
        return out
    csr.eliminate_zeros()
    return csr


def _coords(labels: LabelMatrix, value: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the entries equal to ``value``, in row-major order."""
    if is_sparse(labels):
        csr = canonical_csr(labels)
        where = np.flatnonzero(csr.data == value)
        rows = np.searchsorted(csr.indptr, where, side="right") - 1
        return rows, csr.indices[where].astype(np.int64)
    return np.nonzero(np.asarray(labels) == value)


def _assemble(template: LabelMatrix, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> LabelMatrix:
    """A matrix shaped like ``template`` holding ``values`` at (rows, cols), UNANN elsewhere."""
    if is_sparse(template):
        import scipy.sparse as sp  # ~0.15 s to import: only when a sparse matrix is built

        return canonical_csr(sp.csr_array((values.astype(LABEL_DTYPE), (rows, cols)), shape=template.shape))
    out = np.zeros(template.shape, dtype=LABEL_DTYPE)
    out[rows, cols] = values
    return out


def smallest_keys(keys: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k smallest keys (ties at the k-th value broken by position), in O(n):
    with i.i.d. uniform keys, a uniform k-subset drawn without replacement."""
    if k >= keys.size:
        return np.arange(keys.size)
    if k <= 0:
        return np.arange(0)
    kth = np.partition(keys, k - 1)[k - 1]
    below = np.flatnonzero(keys < kth)
    return np.concatenate((below, np.flatnonzero(keys == kth)[: k - below.size]))


def fixed_per_class(labels: LabelMatrix, n_s: int, rng: np.random.Generator) -> LabelMatrix:
    """Per class, in class order, exactly min(n_s, #pos) positives and then min(n_s, #neg)
    negatives kept, chosen uniformly without replacement (``smallest_keys`` of one ``random()`` key
    per candidate, candidates in row order); every other entry un-annotated."""
    import scipy.sparse as sp  # ~0.15 s to import: only when this sampler runs

    csc = sp.csc_array(canonical_csr(labels))
    csc.sort_indices()
    kept_rows, kept_cols, kept_values = [], [], []
    for c in range(csc.shape[1]):
        rows = csc.indices[csc.indptr[c] : csc.indptr[c + 1]]
        values = csc.data[csc.indptr[c] : csc.indptr[c + 1]]
        for value in (POS, NEG):
            candidates = rows[values == value]
            chosen = candidates[smallest_keys(rng.random(candidates.size), n_s)]
            kept_rows.append(chosen.astype(np.int64))
            kept_cols.append(np.full(chosen.size, c, dtype=np.int64))
            kept_values.append(np.full(chosen.size, value, dtype=LABEL_DTYPE))
    return _assemble(labels, np.concatenate(kept_rows), np.concatenate(kept_cols), np.concatenate(kept_values))


def single_positive(labels: LabelMatrix, rng: np.random.Generator | None) -> LabelMatrix:
    """One positive per image, uniform among that image's positives, nothing else annotated;
    images without a positive stay un-annotated (Cole et al. 2021, docs/methods.md §3.5).

    With a ``Generator``: one ``random()`` draw u per image with k >= 1 positives (row order),
    keeping its floor(u * k)-th positive in column order.

    With ``rng=None``: Cole et al.'s own draw (``generate_observed_labels.py --num-pos 1
    --num-neg 0 --seed 1200``), a fresh ``numpy.random.RandomState(1200)`` and, for each row in
    order, ``RandomState.shuffle`` of the row's ascending positive column indices, the first one
    kept, then a shuffle of the row's negative column indices (their script shuffles them although
    it keeps none, which advances the generator). Assumption, from reading their script: the
    shuffle permutes by position only, so shuffling 0..k-1 stands for shuffling the k indices.
    Bit-for-bit parity with their files needs their row order (COCO: image ids sorted as strings)
    and full +-1 rows; it is a per-row loop meant for their dataset sizes.
    """
    rows, cols = _coords(labels, POS)
    counts = np.bincount(rows, minlength=labels.shape[0])
    has_pos = counts > 0
    if rng is None:
        offset = _cole_first_positive(counts, labels.shape[1])
    else:
        u = rng.random(int(has_pos.sum()))
        offset = np.minimum((u * counts[has_pos]).astype(np.int64), counts[has_pos] - 1)
    picked = (np.cumsum(counts) - counts)[has_pos] + offset
    return _assemble(labels, rows[picked], cols[picked], np.full(picked.size, POS, dtype=LABEL_DTYPE))


def _cole_first_positive(pos_counts: np.ndarray, num_classes: int) -> np.ndarray:
    """Offset, among each row's ascending positives, that Cole et al.'s draw keeps (rows with >= 1
    positive only)."""
    rng = np.random.RandomState(COLE_SEED)
    scratch = np.arange(num_classes, dtype=np.int64)
    chosen = []
    for k in pos_counts.tolist():
        if k:
            order = np.arange(k, dtype=np.int64)
            rng.shuffle(order)
            chosen.append(int(order[0]))
        rng.shuffle(scratch[: num_classes - k])
    return np.asarray(chosen, dtype=np.int64)
