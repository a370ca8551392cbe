"""Fuzzing the label converters and validators (hypothesis, bounded): random dense arrays (wrong
dtypes, shapes, values, NaN / inf), ragged lists and random sparse matrices in every scipy format
(duplicated cells, explicit zeros, bad values) either give a valid int8 {1, -1, 0} matrix of the
input's shape that means what the input means, or raise one ``LabelError`` whose message is one line.

Each property counts its outcomes (``COUNTS``; ``--hypothesis-show-statistics`` shows them as events
too) and the last test checks that every property saw both outcomes.
"""
from __future__ import annotations

import collections
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bench.labels.encoding import (
    LabelError,
    canonical_csr,
    from_01,
    from_cole,
    from_csl,
    from_known_mask,
    to_cole,
    to_csl,
    to_sparse,
    validate_labels,
)

# Derandomized (the same examples every run: a failure reproduces, the counts are stable) and without
# an example database (nothing written into the checkout).
FUZZ = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
COUNTS: collections.Counter = collections.Counter()
OURS, CSL, ZERO_ONE = (1, -1, 0), (1, 0, -1), (0, 1)
LABEL_DTYPES = [np.int8, np.int16, np.int64, np.uint8, np.float16, np.float32, np.float64, np.bool_]
OTHER_DTYPES = [np.complex128, np.dtype("<U2"), np.dtype("M8[s]")]


def _elements(dtype: np.dtype) -> st.SearchStrategy:
    """Mostly label-like values, sometimes anything the dtype holds (NaN and inf for floats)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return st.one_of(st.sampled_from([v for v in (-1, 0, 1) if info.min <= v]),
                         st.integers(int(info.min), int(info.max)))
    if dtype.kind == "f":
        return st.one_of(st.sampled_from([-1.0, 0.0, 1.0, -0.0]), st.floats(width=8 * dtype.itemsize))
    return hnp.from_dtype(dtype)


@st.composite
def dense_inputs(draw) -> object:
    """A numpy array of a label dtype or another one, of 0 to 3 dimensions, or a (ragged) list."""
    if draw(st.integers(0, 9)) == 0:
        rows = draw(st.lists(st.lists(st.sampled_from([-1, 0, 1, 2]), max_size=4), max_size=4))
        return rows
    dtype = np.dtype(draw(st.sampled_from(LABEL_DTYPES + OTHER_DTYPES if draw(st.integers(0, 7)) == 0
                                          else LABEL_DTYPES)))
    shape = draw(st.one_of(hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=6),
                           hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)))
    return draw(hnp.arrays(dtype, shape, elements=_elements(dtype)))


FORMATS = ("csr", "csc", "coo", "bsr", "lil", "dok", "csr_matrix", "coo_matrix")


@st.composite
def sparse_inputs(draw) -> tuple[object, np.ndarray | None, bool]:
    """(a scipy sparse matrix, its dense meaning when no cell is stored twice, whether one is)."""
    rows, cols = draw(st.integers(0, 6)), draw(st.integers(0, 6))
    dtype = np.dtype(draw(st.sampled_from([np.int8, np.int64, np.float64, np.bool_])))
    cells = rows * cols
    count = draw(st.integers(0, min(cells * 2, 12))) if cells else 0
    flat = np.array(draw(st.lists(st.integers(0, max(cells - 1, 0)), min_size=count, max_size=count)), dtype=np.int64)
    values = np.array(draw(st.lists(_elements(dtype), min_size=count, max_size=count)), dtype=dtype)
    r, c = np.divmod(flat, max(cols, 1))
    duplicated = len(set(flat.tolist())) != flat.size  # as drawn; _structure reads what was built
    fmt = draw(st.sampled_from(FORMATS))
    if duplicated and fmt in ("lil", "dok"):
        fmt = "coo"  # these formats cannot store a cell twice
    if duplicated and fmt != "coo" and fmt != "coo_matrix":
        # keep the duplicates in a compressed structure: CSR arrays written by hand
        order = np.lexsort((c, r))
        indptr = np.concatenate(([0], np.cumsum(np.bincount(r, minlength=rows))))
        matrix = sp.csr_array((values[order], c[order], indptr), shape=(rows, cols))
        matrix = {"csc": matrix.tocsc, "bsr": lambda: sp.bsr_array(matrix)}.get(fmt, lambda: matrix)()
        if fmt == "csr_matrix":
            matrix = sp.csr_matrix(matrix)
    else:
        coo = sp.coo_array((values, (r, c)), shape=(rows, cols))
        builders = {"csr": coo.tocsr, "csc": coo.tocsc, "coo": lambda: coo, "bsr": coo.tobsr,
                    "lil": coo.tolil, "dok": coo.todok, "csr_matrix": lambda: sp.csr_matrix(coo),
                    "coo_matrix": lambda: sp.coo_matrix(coo)}
        matrix = builders[fmt]()
    return matrix, *_structure(matrix)


def _structure(matrix) -> tuple[np.ndarray | None, bool]:
    """(dense meaning when no cell is stored twice, whether one is), read from the stored entries."""
    coo = sp.coo_array(matrix.todok()) if matrix.format in ("dok", "lil") else matrix.tocoo()
    cells = list(zip(np.asarray(coo.row).tolist(), np.asarray(coo.col).tolist()))
    if len(set(cells)) != len(cells):
        return None, True
    meaning = np.zeros(matrix.shape, dtype=np.float64)
    meaning[np.asarray(coo.row, dtype=np.int64), np.asarray(coo.col, dtype=np.int64)] = coo.data.astype(np.float64)
    return meaning, False


def _one_line(err: LabelError) -> None:
    message = str(err)
    assert message and len(message.splitlines()) == 1, repr(message)


def _numeric_2d(value: object) -> np.ndarray | None:
    """The array a dense input means when it is a 2-D numeric array, else None."""
    try:
        arr = np.asarray(value)
    except ValueError:
        return None
    return arr if arr.dtype.kind in "biuf" and arr.ndim == 2 else None


def _in(arr: np.ndarray, allowed: tuple) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bool(np.isin(arr.astype(np.float64), allowed).all()) if arr.size else True


def _count(prop: str, outcome: str) -> None:
    COUNTS[prop, outcome] += 1
    event(outcome)


def _check(prop: str, convert, value, expected: np.ndarray | None, out_values: tuple = OURS,
           out_dtype: type = np.int8) -> None:
    """``convert(value)`` is ``expected`` (shape, dtype ``out_dtype``, values in ``out_values``) when
    ``expected`` is not None, else one ``LabelError`` line."""
    try:
        out = convert(value)
    except LabelError as err:
        _one_line(err)
        assert expected is None, f"refused a valid input: {err}"
        _count(prop, "refused")
        return
    assert expected is not None, f"accepted an invalid input as {out!r}"
    dense = out.toarray() if sp.issparse(out) else np.asarray(out)
    assert dense.dtype == out_dtype and dense.shape == expected.shape
    assert _in(dense, out_values)
    assert np.array_equal(dense, expected)
    _count(prop, "accepted")


@FUZZ
@given(dense_inputs())
def test_dense_validators_and_converters(value):
    arr = _numeric_2d(value)
    ours = arr if arr is not None and _in(arr, OURS) else None
    _check("validate_labels dense", validate_labels, value, None if ours is None else ours.astype(np.int8))
    _check("from_cole dense", from_cole, value, None if ours is None else ours.astype(np.int8))
    _check("canonical_csr dense", canonical_csr, value, None if ours is None else ours.astype(np.int8))
    csl = arr if arr is not None and _in(arr, CSL) else None
    expected_csl = None if csl is None else np.select([csl == 1, csl == 0], [1, -1], 0).astype(np.int8)
    _check("from_csl dense", from_csl, value, expected_csl)
    _check("to_csl dense", to_csl, value,
           None if ours is None else np.select([ours == 1, ours == -1], [1, 0], -1).astype(np.int8), CSL)
    _check("to_cole dense", to_cole, value, None if ours is None else ours.astype(np.float32), OURS, np.float32)
    zero_one = arr if arr is not None and _in(arr, ZERO_ONE) else None
    _check("from_01 dense", from_01, value,
           None if zero_one is None else np.where(zero_one == 1, 1, -1).astype(np.int8))


@FUZZ
@given(sparse_inputs())
def test_sparse_validators_refuse_duplicates_and_keep_the_meaning(case):
    matrix, meaning, duplicated = case
    ours = None if duplicated or not _in(meaning, OURS) else meaning.astype(np.int8)
    _check("validate_labels sparse", validate_labels, matrix, ours)
    _check("canonical_csr sparse", canonical_csr, matrix, ours)
    if duplicated or _in(meaning, OURS):  # to_sparse converts without checking the values
        _check("to_sparse sparse", to_sparse, matrix, ours)
    _check("from_cole sparse", from_cole, matrix, ours)
    csl = None if duplicated or not _in(meaning, CSL) else meaning
    _check("from_csl sparse", from_csl, matrix,
           None if csl is None else np.select([csl == 1, csl == 0], [1, -1], 0).astype(np.int8))
    zero_one = None if duplicated or not _in(meaning, ZERO_ONE) else meaning
    _check("from_01 sparse", from_01, matrix,
           None if zero_one is None else np.where(zero_one == 1, 1, -1).astype(np.int8))


@FUZZ
@given(sparse_inputs(), st.booleans(), st.booleans())
def test_known_mask_converter(case, sparse_labels, dense_mask):
    mask, meaning, duplicated = case
    if dense_mask and not duplicated:
        mask = meaning
    rng = np.random.default_rng(mask.shape[0] * 7 + mask.shape[1])
    labels01 = (rng.random(mask.shape) < 0.5).astype(np.int8)
    labels = sp.csr_array(labels01) if sparse_labels else labels01
    valid = not duplicated and _in(meaning, ZERO_ONE)
    expected = np.where(meaning != 0, np.where(labels01 == 1, 1, -1), 0).astype(np.int8) if valid else None
    _check("from_known_mask", lambda m: from_known_mask(labels, m), mask, expected)


def test_every_property_saw_both_outcomes():
    """Guards the strategies: a property that only ever accepts (or refuses) tests little."""
    properties = {prop for prop, _ in COUNTS}
    if not properties:
        pytest.skip("no fuzz property ran in this session")
    one_sided = sorted(p for p in properties if not (COUNTS[p, "accepted"] and COUNTS[p, "refused"]))
    assert not one_sided, dict(COUNTS)
    print("\nlabel fuzz outcomes:", {p: (COUNTS[p, "accepted"], COUNTS[p, "refused"]) for p in sorted(properties)})
