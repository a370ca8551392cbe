"""The label model: one int8 encoding everywhere.

A sample's labels are a vector in {1, -1, 0}^C:

* ``POS = 1``   annotated positive,
* ``NEG = -1``  annotated negative,
* ``UNANN = 0`` un-annotated (no information).

Label matrices are either dense ``numpy.ndarray`` of dtype int8 with shape (N, C), or sparse
``scipy.sparse.csr_array`` / ``csr_matrix`` holding only the annotated entries (values +-1; every
implicit zero is un-annotated), which is how OpenImages-scale label spaces are stored.
Every public function of ``bench`` that takes labels accepts both.

Converters from the other encodings in use (validated; a bad value raises ``LabelError`` saying how
many entries are bad and the first row/column): ``from_csl``/``to_csl`` (CSL: 1 / 0 negative / -1
unknown), ``from_01`` and ``from_known_mask`` (0/1 matrices), ``from_cole``/``to_cole`` and
``load_cole_labels`` (Cole et al. / LargeLossMatters: 1 / 0 unknown / -1 negative). Converters into
our encoding return the same kind (dense or sparse) as their input.

Sparse inputs, in any scipy sparse format (CSR, CSC, COO, BSR, LIL, DOK, ...; 2-D, numeric): a cell
stored more than once is refused (``LabelError`` naming the input and the first duplicated row and
column), because scipy would sum the stored values on conversion -- two 1s would become a 2, a 1
and a -1 an un-annotated 0. Explicit zeros stored in the structure are accepted: a stored 0 reads
exactly like an implicit one (un-annotated in our and Cole's encoding, a negative in CSL's and the
0/1 encodings), every reader here goes by the stored values, never by what is stored, and the
converters drop them (``to_sparse``, ``canonical_csr``); ``validate_labels`` keeps the structure it
is given so that 1-D scores aligned with the stored entries stay aligned. Dense inputs must be
2-D arrays of booleans, integers or floats (anything ``numpy.asarray`` turns into one).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from bench.core.errors import InputError
from bench.core.params import shown

if TYPE_CHECKING:  # scipy.sparse costs ~0.15 s to import: loaded only where a sparse matrix is built or read
    import scipy.sparse as sp

POS: int = 1
NEG: int = -1
UNANN: int = 0
LABEL_DTYPE = np.int8

if TYPE_CHECKING:
    LabelMatrix = np.ndarray | sp.csr_array | sp.csr_matrix
else:  # used only in annotations (strings under ``from __future__ import annotations``); importable by name
    LabelMatrix = "np.ndarray | sp.csr_array | sp.csr_matrix"
NUMERIC_KINDS = "biuf"  # numpy dtype kinds a label matrix may have: bool, signed, unsigned, float


class LabelError(InputError):
    """A label matrix holds a value outside {1, -1, 0} or has the wrong shape."""


def is_sparse(labels: LabelMatrix) -> bool:
    """True when ``labels`` is a scipy sparse matrix/array.

    Exact without importing scipy.sparse: nothing can be an instance of its classes before that
    module is imported, so when it is not in ``sys.modules`` the answer is False."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(labels)


def _dense_input(labels: object, where: str) -> np.ndarray:
    """``labels`` as a 2-D numeric numpy array, or ``LabelError``."""
    try:
        arr = np.asarray(labels)
    except (TypeError, ValueError) as exc:
        raise LabelError(f"{where}: not a (samples x classes) matrix of numbers: {shown(exc)}") from None
    if arr.dtype.kind not in NUMERIC_KINDS:
        raise LabelError(f"{where}: label values must be numbers (bool, int or float); got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise LabelError(f"{where}: expected a 2-D (samples x classes) matrix, got shape {arr.shape}")
    return arr


def _duplicates(matrix: sp.sparray | sp.spmatrix) -> tuple[int, int, int] | None:
    """(number of cells stored more than once, row, column of the first of them in row-major order),
    or None when no cell is stored twice."""
    if matrix.format == "dok" or (matrix.format in ("csr", "csc", "coo") and matrix.has_canonical_format):
        return None
    if matrix.format == "csr":
        ordered = matrix.sorted_indices() if not matrix.has_sorted_indices else matrix
        indptr, indices = np.asarray(ordered.indptr), np.asarray(ordered.indices)
        at = np.flatnonzero(indices[1:] == indices[:-1]) + 1  # position of a repeat of the previous index
        rows = np.searchsorted(indptr, at, side="right") - 1
        repeat = at > indptr[rows]  # not the first entry of its row
        at, rows = at[repeat], rows[repeat]
        if not at.size:
            return None
        first_of_run = np.ones(at.size, dtype=bool)
        first_of_run[1:] = at[1:] != at[:-1] + 1
        return int(first_of_run.sum()), int(rows[0]), int(indices[at[0]])
    coo = matrix.tocoo()
    rows, cols = np.asarray(coo.row, dtype=np.int64), np.asarray(coo.col, dtype=np.int64)
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    same = (rows[1:] == rows[:-1]) & (cols[1:] == cols[:-1])
    if not same.any():
        return None
    first_of_run = same.copy()
    first_of_run[1:] &= ~same[:-1]
    first = int(np.flatnonzero(same)[0])
    return int(first_of_run.sum()), int(rows[first]), int(cols[first])


def _sparse_input(labels: sp.sparray | sp.spmatrix, where: str) -> sp.csr_array:
    """A scipy sparse input as CSR, refusing what the conversion would silently change: not 2-D, not
    numeric, or a cell stored more than once (see the module docstring)."""
    import scipy.sparse as sp

    if labels.ndim != 2:
        raise LabelError(f"{where}: expected a 2-D (samples x classes) matrix, got shape {labels.shape}")
    if labels.dtype.kind not in NUMERIC_KINDS:
        raise LabelError(f"{where}: label values must be numbers (bool, int or float); got dtype {labels.dtype}")
    found = _duplicates(labels)
    if found is not None:
        count, row, col = found
        raise LabelError(
            f"{where}: {count} cell(s) stored more than once in the sparse {labels.format.upper()} matrix "
            f"(scipy would add them up); first at row {row}, column {col}; store each annotated entry once"
        )
    return sp.csr_array(labels)


def validate_labels(labels: LabelMatrix, where: str = "labels", num_classes: int | None = None) -> LabelMatrix:
    """Check that ``labels`` is a 2-D matrix in our encoding and return it as int8.

    Raises ``LabelError`` naming ``where``, how many entries are invalid and the first offending
    (row, column) and value; for a sparse input also a cell stored more than once (module docstring).
    """
    if is_sparse(labels):
        import scipy.sparse as sp

        csr = _sparse_input(labels, where)
        data = np.asarray(csr.data)
        bad = ~np.isin(data, (POS, NEG, UNANN))
        if bad.any():
            rows = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))
            first = int(np.flatnonzero(bad)[0])
            raise LabelError(
                f"{where}: {int(bad.sum())} label value(s) outside {{1, -1, 0}}; first at row "
                f"{int(rows[first])}, column {int(csr.indices[first])}: {data[first].item()!r}"
            )
        out = sp.csr_array((data.astype(LABEL_DTYPE), csr.indices, csr.indptr), shape=csr.shape)
    else:
        arr = _dense_input(labels, where)
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            bad_mask = ~np.isfinite(arr)
        else:
            bad_mask = ~np.isin(arr, (POS, NEG, UNANN))
        if bad_mask.any():
            r, c = np.argwhere(bad_mask)[0]
            raise LabelError(
                f"{where}: {int(bad_mask.sum())} label value(s) outside {{1, -1, 0}}; first at row "
                f"{int(r)}, column {int(c)}: {arr[r, c].item()!r}"
            )
        out = arr.astype(LABEL_DTYPE, copy=False)
    if num_classes is not None and out.shape[1] != num_classes:
        raise LabelError(f"{where}: {out.shape[1]} classes, expected {num_classes}")
    return out


def to_dense(labels: LabelMatrix) -> np.ndarray:
    """Dense int8 (N, C) copy of ``labels`` (un-annotated entries become 0)."""
    if is_sparse(labels):
        return np.asarray(labels.toarray(), dtype=LABEL_DTYPE)
    return np.asarray(labels, dtype=LABEL_DTYPE)


def to_sparse(labels: LabelMatrix) -> sp.csr_array:
    """Sparse CSR int8 copy holding only the annotated entries (a sparse input storing a cell twice is
    refused, see the module docstring)."""
    import scipy.sparse as sp

    if is_sparse(labels):
        out = sp.csr_array(_sparse_input(labels, "labels"), dtype=LABEL_DTYPE, copy=True)
    else:
        out = sp.csr_array(np.asarray(labels, dtype=LABEL_DTYPE))
    out.eliminate_zeros()
    return out


def _check_values(labels: LabelMatrix, allowed: tuple, where: str, encoding: str) -> None:
    """Raise ``LabelError`` when ``labels`` (dense or sparse, any dtype) holds a value outside
    ``allowed``: how many entries are bad and the first (row, column) in row-major order."""
    if is_sparse(labels):
        csr = _sparse_input(labels, where)
        data = np.asarray(csr.data)
        bad = np.flatnonzero(~np.isin(data, allowed))
        if bad.size:
            rows = np.searchsorted(csr.indptr, bad, side="right") - 1
            k = int(np.lexsort((csr.indices[bad], rows))[0])
            first = (int(rows[k]), int(csr.indices[bad[k]]), data[bad[k]])
    else:
        arr = _dense_input(labels, where)
        bad_mask = ~np.isin(arr, allowed)
        bad = np.flatnonzero(bad_mask)
        if bad.size:
            r, c = divmod(int(bad[0]), arr.shape[1])
            first = (r, c, arr[r, c])
    if bad.size:
        values = ", ".join(str(v) for v in allowed)
        raise LabelError(
            f"{where}: {bad.size} value(s) outside the {encoding} encoding {{{values}}}; first at row "
            f"{first[0]}, column {first[1]}: {first[2].item()!r}"
        )


def _same_kind(template: LabelMatrix, dense: np.ndarray) -> LabelMatrix:
    """``dense`` returned as a sparse CSR (annotated entries only) when ``template`` is sparse."""
    return to_sparse(dense) if is_sparse(template) else dense


def from_csl(labels: LabelMatrix, where: str = "CSL labels") -> LabelMatrix:
    """CSL / PartialLabelingCSL encoding (1 positive, 0 negative, -1 unknown) -> ours.

    Mapping 1 -> POS, 0 -> NEG, -1 -> UNANN. A sparse CSL matrix's implicit zeros are CSL
    negatives, so they become explicit annotated negatives in the (sparse) result.
    """
    _check_values(labels, (1, 0, -1), where, "CSL")
    csl = np.asarray(labels.toarray() if is_sparse(labels) else labels)
    out = np.full(csl.shape, NEG, dtype=LABEL_DTYPE)
    out[csl == 1] = POS
    out[csl == -1] = UNANN
    return _same_kind(labels, out)


def to_csl(labels: LabelMatrix, where: str = "labels") -> np.ndarray:
    """Ours -> CSL encoding (POS -> 1, NEG -> 0, UNANN -> -1) as a dense int8 array (dense because a
    CSL zero means negative, so CSL has no sparse form holding only the annotated entries)."""
    ours = to_dense(validate_labels(labels, where))
    out = np.full(ours.shape, -1, dtype=LABEL_DTYPE)
    out[ours == POS] = 1
    out[ours == NEG] = 0
    return out


def from_01(labels01: LabelMatrix, where: str = "0/1 labels") -> LabelMatrix:
    """A fully labelled 0/1 matrix -> ours: 1 -> POS, 0 -> NEG (every entry annotated). A sparse
    input gives a sparse result in which every entry is stored."""
    _check_values(labels01, (0, 1), where, "0/1")
    y = np.asarray(labels01.toarray() if is_sparse(labels01) else labels01)
    out = np.where(y == 1, POS, NEG).astype(LABEL_DTYPE)
    return _same_kind(labels01, out)


def from_known_mask(labels01: LabelMatrix, known_mask: LabelMatrix, where: str = "labels") -> LabelMatrix:
    """0/1 labels plus a known-mask -> ours: POS where known and 1, NEG where known and 0, UNANN
    where not known. Sparse when ``known_mask`` is sparse (only its stored true entries are known)."""
    labels01 = labels01 if is_sparse(labels01) else _dense_input(labels01, f"{where} (0/1 values)")
    known_mask = known_mask if is_sparse(known_mask) else _dense_input(known_mask, f"{where} (known-mask)")
    if tuple(labels01.shape) != tuple(known_mask.shape):
        raise LabelError(
            f"{where}: labels shape {tuple(labels01.shape)} != known-mask shape {tuple(known_mask.shape)}"
        )
    _check_values(labels01, (0, 1), f"{where} (0/1 values)", "0/1")
    _check_values(known_mask, (0, 1), f"{where} (known-mask)", "0/1 mask")
    if not is_sparse(known_mask):
        y = np.asarray(labels01.toarray() if is_sparse(labels01) else labels01)
        known = np.asarray(known_mask).astype(bool)
        return np.where(known, np.where(y == 1, POS, NEG), UNANN).astype(LABEL_DTYPE)
    import scipy.sparse as sp

    mask = sp.csr_array(known_mask, dtype=np.int8, copy=True)
    mask.eliminate_zeros()
    mask.sort_indices()
    rows = np.repeat(np.arange(mask.shape[0]), np.diff(mask.indptr))
    picked = sp.csr_array(labels01)[rows, mask.indices] if is_sparse(labels01) else labels01[rows, mask.indices]
    if is_sparse(picked):  # scipy answers an empty fancy index with a sparse matrix
        picked = picked.toarray()
    data = np.where(np.asarray(picked).ravel() == 1, POS, NEG).astype(LABEL_DTYPE)
    return sp.csr_array((data, mask.indices.copy(), mask.indptr.copy()), shape=mask.shape)


def from_cole(labels: LabelMatrix, where: str = "Cole labels") -> LabelMatrix:
    """Cole et al. / LargeLossMatters encoding (1 observed positive, 0 unknown, -1 observed
    negative; float in their ``formatted_*_labels_obs.npy``) -> ours: the same meaning, as int8."""
    _check_values(labels, (1, 0, -1), where, "Cole")
    return validate_labels(labels, where)


def to_cole(labels: LabelMatrix, where: str = "labels") -> LabelMatrix:
    """Ours -> Cole / LargeLossMatters encoding (same values, float32 as their loaders use);
    sparse stays sparse (implicit zero = unknown in both)."""
    ours = validate_labels(labels, where)
    if is_sparse(ours):
        import scipy.sparse as sp

        return sp.csr_array(ours, dtype=np.float32)
    return ours.astype(np.float32)


def load_cole_labels(path: str | Path) -> np.ndarray:
    """Read a Cole et al. ``formatted_{train,val}_labels_obs.npy`` (N x C, -1/0/1) into ours."""
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise LabelError(f"{path}: cannot read a .npy array: {shown(exc)}") from None
    if not isinstance(arr, np.ndarray) or arr.ndim != 2:
        raise LabelError(f"{path}: expected one 2-D (samples x classes) array in a .npy file")
    return from_cole(arr, where=str(path))


def canonical_csr(labels: LabelMatrix) -> sp.csr_array:
    """CSR int8 holding only the annotated entries, indices sorted, no duplicates: the same arrays
    for the dense and the sparse form of one matrix (used for hashing and equality)."""
    out = to_sparse(validate_labels(labels))
    out.sum_duplicates()
    out.sort_indices()
    out.eliminate_zeros()
    return out


class CsrArrays(NamedTuple):
    """The arrays of a canonical CSR: (rows, columns), indptr, column indices, int8 data."""

    shape: tuple[int, int]
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray


def canonical_csr_arrays(labels: LabelMatrix) -> CsrArrays:
    """The arrays of ``canonical_csr(labels)``, equal value for value (dtypes aside: indptr and
    indices int64 for a dense input); a dense input is read with numpy alone (its nonzero entries in
    row-major order), so hashing dense labels never imports scipy.sparse."""
    if is_sparse(labels):
        csr = canonical_csr(labels)
        return CsrArrays((int(csr.shape[0]), int(csr.shape[1])), csr.indptr, csr.indices, csr.data)
    dense = validate_labels(labels)
    rows, cols = np.nonzero(dense)
    indptr = np.zeros(dense.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.count_nonzero(dense, axis=1), out=indptr[1:])
    return CsrArrays((int(dense.shape[0]), int(dense.shape[1])), indptr, cols.astype(np.int64), dense[rows, cols])


def is_fully_labelled(labels: LabelMatrix) -> bool:
    """True when every entry is annotated (+-1): what the simulation protocols start from."""
    if is_sparse(labels):
        import scipy.sparse as sp

        csr = sp.csr_array(labels)
        return int(np.count_nonzero(csr.data)) == csr.shape[0] * csr.shape[1]
    return bool(np.all(np.asarray(labels) != UNANN))


class LabelCounts(NamedTuple):
    """Per-class counts (int64, shape (C,)) of annotated positives, negatives and un-annotated."""

    positives: np.ndarray
    negatives: np.ndarray
    unannotated: np.ndarray


def label_counts(labels: LabelMatrix) -> LabelCounts:
    """Per-class positive / negative / un-annotated counts; a sparse matrix is counted from its
    stored entries (``bincount`` over column indices), never densified."""
    num_rows, num_classes = labels.shape
    if is_sparse(labels):
        import scipy.sparse as sp

        csr = sp.csr_array(labels)
        data, cols = np.asarray(csr.data), np.asarray(csr.indices)
        pos = np.bincount(cols[data == POS], minlength=num_classes)
        neg = np.bincount(cols[data == NEG], minlength=num_classes)
    else:
        arr = np.asarray(labels)
        pos = np.count_nonzero(arr == POS, axis=0)
        neg = np.count_nonzero(arr == NEG, axis=0)
    pos, neg = pos.astype(np.int64), neg.astype(np.int64)
    return LabelCounts(pos, neg, num_rows - pos - neg)
