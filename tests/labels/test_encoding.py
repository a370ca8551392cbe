"""The label model: encoding constants, converters and their rejections, counts, canonical CSR."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from bench.labels.encoding import (
    NEG,
    POS,
    UNANN,
    LabelError,
    canonical_csr,
    from_01,
    from_cole,
    from_csl,
    from_known_mask,
    is_fully_labelled,
    label_counts,
    load_cole_labels,
    to_cole,
    to_csl,
    to_dense,
    to_sparse,
    validate_labels,
)

OURS = np.array([[1, -1, 0, 0], [0, 0, 1, -1], [-1, -1, -1, 1]], dtype=np.int8)
CSL = np.array([[1, 0, -1, -1], [-1, -1, 1, 0], [0, 0, 0, 1]], dtype=np.int8)


def random_ours(seed: int, shape=(50, 7)) -> np.ndarray:
    return np.random.default_rng(seed).choice(np.array([POS, NEG, UNANN], dtype=np.int8), size=shape)


def test_constants_unchanged():
    assert (POS, NEG, UNANN) == (1, -1, 0)


def test_from_csl_hand_case_dense_and_sparse():
    assert np.array_equal(from_csl(CSL), OURS)
    out = from_csl(sp.csr_array(CSL))
    assert sp.issparse(out) and np.array_equal(out.toarray(), OURS)


def test_sparse_csl_implicit_zeros_are_negatives():
    csl = sp.csr_array(np.array([[1, 0], [0, -1]], dtype=np.int8))
    assert np.array_equal(to_dense(from_csl(csl)), [[POS, NEG], [NEG, UNANN]])


@pytest.mark.parametrize("seed", range(3))
def test_csl_round_trip(seed):
    ours = random_ours(seed)
    assert np.array_equal(to_csl(ours), np.select([ours == 1, ours == -1], [1, 0], -1))
    assert np.array_equal(from_csl(to_csl(ours)), ours)
    assert np.array_equal(to_csl(to_sparse(ours)), to_csl(ours))


def test_from_01_and_bool_input():
    y = np.array([[1, 0], [0, 1]], dtype=np.uint8)
    assert np.array_equal(from_01(y), [[1, -1], [-1, 1]])
    assert np.array_equal(from_01(y.astype(bool)), [[1, -1], [-1, 1]])
    out = from_01(sp.csr_array(y))
    assert sp.issparse(out) and out.nnz == 4 and np.array_equal(out.toarray(), [[1, -1], [-1, 1]])


def test_from_known_mask_all_combinations_agree():
    y = np.array([[1, 0, 1], [0, 1, 0]], dtype=np.uint8)
    known = np.array([[1, 1, 0], [0, 1, 1]], dtype=bool)
    expected = np.array([[1, -1, 0], [0, 1, -1]], dtype=np.int8)
    assert np.array_equal(from_known_mask(y, known), expected)
    for y_form in (y, sp.csr_array(y)):
        for mask_form in (known, sp.csr_array(known)):
            out = from_known_mask(y_form, mask_form)
            assert sp.issparse(out) == sp.issparse(mask_form)
            assert np.array_equal(to_dense(out), expected)


def test_from_known_mask_ignores_explicit_false_in_sparse_mask():
    mask = sp.csr_array((np.array([0, 1], dtype=np.int8), np.array([0, 1]), np.array([0, 2])), shape=(1, 2))
    out = from_known_mask(np.array([[1, 1]]), mask)
    assert out.nnz == 1 and np.array_equal(out.toarray(), [[0, 1]])


def test_from_known_mask_shape_mismatch():
    with pytest.raises(LabelError, match=r"shape \(2, 3\) != known-mask shape \(2, 2\)"):
        from_known_mask(np.zeros((2, 3)), np.zeros((2, 2)))


def test_cole_round_trip_and_dtype():
    cole = OURS.astype(np.float64)
    assert np.array_equal(from_cole(cole), OURS) and from_cole(cole).dtype == np.int8
    assert to_cole(OURS).dtype == np.float32 and np.array_equal(to_cole(OURS), cole)
    sparse = to_cole(to_sparse(OURS))
    assert sp.issparse(sparse) and sparse.dtype == np.float32 and np.array_equal(sparse.toarray(), cole)
    assert np.array_equal(from_cole(sparse).toarray(), OURS)


def test_load_cole_labels(tmp_path):
    path = tmp_path / "formatted_train_labels_obs.npy"
    np.save(path, OURS.astype(np.float64))
    assert np.array_equal(load_cole_labels(path), OURS)
    np.save(path, np.zeros((2, 2, 2)))
    with pytest.raises(LabelError, match="2-D"):
        load_cole_labels(path)
    bad = OURS.astype(np.float64)
    bad[1, 2] = 2.0
    np.save(path, bad)
    with pytest.raises(LabelError, match=f"{path.name}: 1 value"):
        load_cole_labels(path)


BAD_CASES = [
    (from_csl, 2, "CSL"),
    (from_01, -1, "0/1"),
    (from_cole, 0.5, "Cole"),
    (from_cole, np.nan, "Cole"),
    (validate_labels, 3, "1, -1, 0"),
]


@pytest.mark.parametrize("convert, bad_value, encoding", BAD_CASES)
@pytest.mark.parametrize("sparse", [False, True])
def test_rejections_count_and_first_position(convert, bad_value, encoding, sparse):
    arr = np.zeros((4, 5), dtype=np.float64)
    arr[3, 1] = bad_value
    arr[2, 4] = bad_value
    arr[0, 0] = 1
    matrix = sp.csr_array(arr) if sparse else arr
    with pytest.raises(LabelError, match=rf"2 .*value\(s\) outside.*{encoding}.*row 2, column 4"):
        convert(matrix)


def test_rejections_of_the_known_mask_and_of_a_1d_array():
    with pytest.raises(LabelError, match=r"known-mask.*1 value.*row 0, column 1: 2"):
        from_known_mask(np.zeros((1, 2)), np.array([[1, 2]]))
    with pytest.raises(LabelError, match="2-D"):
        from_csl(np.zeros(3))


@pytest.mark.parametrize("seed", range(3))
def test_label_counts_dense_sparse_and_hand(seed):
    ours = random_ours(seed)
    counts = label_counts(ours)
    assert np.array_equal(counts.positives, (ours == 1).sum(0))
    assert np.array_equal(counts.negatives, (ours == -1).sum(0))
    assert np.array_equal(counts.unannotated, (ours == 0).sum(0))
    sparse_counts = label_counts(to_sparse(ours))
    for a, b in zip(counts, sparse_counts):
        assert np.array_equal(a, b) and b.dtype == np.int64


def test_label_counts_never_densifies_sparse(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("densified")

    big = sp.csr_array((np.array([1, -1, 1], dtype=np.int8), (np.array([0, 5, 400_000]), np.array([3, 3, 9_599]))),
                       shape=(500_000, 9_600))
    for cls in (sp.csr_array, sp.csr_matrix):
        monkeypatch.setattr(cls, "toarray", refuse)
        monkeypatch.setattr(cls, "todense", refuse)
    counts = label_counts(big)
    assert counts.positives[3] == 1 and counts.negatives[3] == 1 and counts.positives[9_599] == 1
    assert counts.unannotated[0] == 500_000 and counts.positives.sum() == 2


def test_canonical_csr_same_for_dense_and_messy_sparse():
    messy = sp.csr_array((np.array([0, -1, 1, 1], dtype=np.int8), np.array([3, 1, 0, 2]), np.array([0, 3, 4])),
                         shape=(2, 4))
    dense = messy.toarray()
    a, b = canonical_csr(dense), canonical_csr(messy)
    for field in ("data", "indices", "indptr"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert list(a.indices[: a.indptr[1]]) == [0, 1]


def test_to_sparse_leaves_its_input_alone():
    source = sp.csr_array((np.array([1, 0, -1], dtype=np.int8), np.array([0, 1, 2]), np.array([0, 3])), shape=(1, 3))
    assert to_sparse(source).nnz == 2
    assert source.nnz == 3 and list(source.indptr) == [0, 3]


def test_is_fully_labelled():
    assert is_fully_labelled(np.array([[1, -1]])) and is_fully_labelled(to_sparse(np.array([[1, -1]])))
    assert not is_fully_labelled(OURS) and not is_fully_labelled(to_sparse(OURS))


def _duplicated_csr(first: int, second: int) -> sp.csr_array:
    """Row 1 stores column 2 twice (``first`` then ``second``), after an ordinary entry."""
    return sp.csr_array((np.array([1, -1, first, second], dtype=np.int8), np.array([0, 3, 2, 2]),
                         np.array([0, 1, 4, 4])), shape=(3, 4))


@pytest.mark.parametrize("values", [(1, 1), (1, -1), (-1, -1), (1, 0)])
@pytest.mark.parametrize("kind", ["csr", "csr_matrix", "csc", "coo", "coo_matrix", "bsr"])
def test_a_cell_stored_twice_is_refused_in_every_sparse_format(values, kind):
    """scipy adds duplicates up on conversion: two 1s would read as a 2, a 1 and a -1 as un-annotated."""
    csr = _duplicated_csr(*values)
    matrix = {"csr": lambda: csr, "csr_matrix": lambda: sp.csr_matrix(csr), "csc": lambda: csr.tocsc(),
              "coo": lambda: csr.tocoo(), "coo_matrix": lambda: sp.coo_matrix(csr.tocoo()),
              "bsr": lambda: sp.bsr_array(csr)}[kind]()
    assert matrix.nnz == 4  # the duplicate is still stored
    message = f"1 cell(s) stored more than once in the sparse {matrix.format.upper()} matrix"
    for check in (lambda m: validate_labels(m, "train labels"), lambda m: canonical_csr(m), to_sparse,
                  lambda m: from_cole(m, "train labels"), lambda m: to_cole(m, "train labels")):
        with pytest.raises(LabelError, match="stored more than once") as info:
            check(matrix)
        assert message in str(info.value) and "first at row 1, column 2" in str(info.value)
        assert "\n" not in str(info.value)
    with pytest.raises(LabelError, match="train labels: 1 cell"):
        validate_labels(matrix, "train labels")


def test_duplicates_are_counted_per_cell_and_the_first_is_in_row_major_order():
    coo = sp.coo_array((np.ones(7, dtype=np.int8), (np.array([2, 2, 2, 0, 0, 1, 3]), np.array([1, 1, 1, 3, 3, 0, 0]))),
                       shape=(4, 4))
    with pytest.raises(LabelError, match=r"2 cell\(s\) stored more than once .*first at row 0, column 3"):
        validate_labels(coo)
    unsorted = sp.csr_array((np.array([1, 1, -1], dtype=np.int8), np.array([3, 0, 3]), np.array([0, 0, 3])),
                            shape=(2, 4))
    with pytest.raises(LabelError, match="first at row 1, column 3"):
        validate_labels(unsorted)


def test_sparse_converters_from_other_encodings_refuse_duplicates():
    csl = sp.coo_array((np.array([1, -1], dtype=np.int8), (np.array([0, 0]), np.array([1, 1]))), shape=(2, 2))
    ones = sp.coo_array((np.array([1, 1], dtype=np.int8), (np.array([1, 1]), np.array([0, 0]))), shape=(2, 2))
    for convert, matrix in ((from_csl, csl), (from_01, ones), (lambda m: from_known_mask(np.zeros((2, 2)), m), ones),
                            (lambda m: from_known_mask(m, np.ones((2, 2))), ones)):
        with pytest.raises(LabelError, match="stored more than once"):
            convert(matrix)


def test_explicit_zeros_and_unsorted_indices_without_duplicates_are_accepted():
    """A stored 0 means what an implicit one means (un-annotated), so it is kept, not refused."""
    stored_zero = sp.csr_array((np.array([0, 1, -1], dtype=np.int8), np.array([2, 0, 1]), np.array([0, 2, 3])),
                               shape=(2, 3))
    out = validate_labels(stored_zero)
    assert out.nnz == 3 and np.array_equal(out.toarray(), [[1, 0, 0], [0, -1, 0]])
    assert canonical_csr(stored_zero).nnz == 2 and label_counts(stored_zero).unannotated.tolist() == [1, 1, 2]
    assert np.array_equal(validate_labels(sp.coo_array(stored_zero)).toarray(), out.toarray())
    assert np.array_equal(validate_labels(sp.dok_array(stored_zero.toarray())).toarray(), out.toarray())


@pytest.mark.parametrize("bad, message", [
    (np.array([["1", "0"]]), "label values must be numbers .* got dtype <U1"),
    (np.array([[1 + 0j, 0]]), "label values must be numbers .* got dtype complex128"),
    (np.array([[1, None]], dtype=object), "label values must be numbers .* got dtype object"),
    ([[1, -1], [0]], "not a \\(samples x classes\\) matrix of numbers"),
    (sp.csr_array(np.array([[1, 0]], dtype=np.complex64)), "label values must be numbers .* got dtype complex64"),
    (sp.coo_array(np.array([1, 0, -1])), "expected a 2-D \\(samples x classes\\) matrix, got shape \\(3,\\)"),
])
def test_non_numeric_ragged_and_non_2d_inputs_are_label_errors(bad, message):
    for convert in (validate_labels, from_cole, from_csl, to_csl, to_cole, canonical_csr):
        with pytest.raises(LabelError, match=message):
            convert(bad)


def test_an_unreadable_cole_file_is_a_label_error(tmp_path):
    path = tmp_path / "labels_obs.npy"
    path.write_bytes(b"not an array")
    with pytest.raises(LabelError, match="labels_obs.npy: cannot read a .npy array"):
        load_cole_labels(path)
    with pytest.raises(LabelError, match="cannot read"):
        load_cole_labels(tmp_path / "missing.npy")
