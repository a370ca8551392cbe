"""The ``files`` protocol: published partial-label files read as-is, aligned by id, with clear errors."""
from __future__ import annotations

import gzip

import numpy as np
import pytest
import scipy.sparse as sp

from bench.labels.encoding import NEG, POS, UNANN, from_01, label_counts, to_sparse
from bench.labels.files import PartialLabelFileError, read_partial_label_file
from bench.labels.protocols import apply_protocol
from tests.helpers.shared import shared_path

IDS = ["9", "25", "30"]
LINES = ["COCO_train2014_000000000030.jpg,", "COCO_train2014_000000000009.jpg, 0 3",
         "COCO_train2014_000000000025.jpg,2"]
EXPECTED = np.array([[1, 0, 0, 1], [0, 0, 1, 0], [0, 0, 0, 0]], dtype=np.int8)
TRUTH = np.full((3, 4), NEG, dtype=np.int8)


def write_lines(path, lines):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("name", ["list.txt", "list.txt.gz"])
@pytest.mark.parametrize("ids", [IDS, [f"COCO_train2014_{int(i):012d}.jpg" for i in IDS], [int(i) for i in IDS]])
def test_text_lists_aligned_by_id(tmp_path, name, ids):
    path = write_lines(tmp_path / name, LINES)
    out = apply_protocol("files", {"path": str(path)}, TRUTH, 0, ids=ids)
    assert isinstance(out, np.ndarray) and np.array_equal(out, EXPECTED)
    assert np.array_equal(apply_protocol("files", {"path": str(path)}, to_sparse(TRUTH), 0, ids=ids).toarray(),
                          EXPECTED)


def test_text_list_in_file_order_without_ids(tmp_path):
    path = write_lines(tmp_path / "list.txt", LINES)
    assert np.array_equal(apply_protocol("files", {"path": str(path)}, TRUTH, 0), EXPECTED[[2, 0, 1]])


@pytest.mark.parametrize("lines, ids, message", [
    (LINES[:2], IDS, "2 rows in the file, 3 in the dataset"),
    (LINES[:2] + ["COCO_train2014_000000000031.jpg,1"], IDS, "1 dataset id\\(s\\) not in the file; first: '25'"),
    (LINES[:2] + ["COCO_train2014_000000000009.jpg,1"], IDS, "1 duplicate image id\\(s\\) in the file"),
    (LINES[:2] + ["COCO_train2014_000000000025.jpg,4"], IDS, "list.txt:3: class index outside 0..3"),
    (LINES[:2] + ["COCO_train2014_000000000025.jpg 2"], IDS, "list.txt:3: expected '<image>,"),
    (LINES[:2] + ["COCO_train2014_000000000025.jpg,x"], IDS, "list.txt:3: expected '<image>,"),
])
def test_text_list_errors(tmp_path, lines, ids, message):
    path = write_lines(tmp_path / "list.txt", lines)
    with pytest.raises(PartialLabelFileError, match=message):
        apply_protocol("files", {"path": str(path)}, TRUTH, 0, ids=ids)


def test_npz_our_encoding_with_key_and_alignment(tmp_path):
    path = tmp_path / "partial.npz"
    hill_style = (EXPECTED == POS).astype(np.uint8)  # 0 = missing, as Hill/SPLC publish it
    np.savez(path, left=hill_style[[2, 0, 1]], image_ids=np.array([30, 9, 25]), other=np.ones((3, 4)))
    assert np.array_equal(apply_protocol("files", {"path": str(path), "key": "left"}, TRUTH, 0, ids=IDS), EXPECTED)
    with pytest.raises(PartialLabelFileError, match="give key=, one of the 2-D arrays: left, other"):
        apply_protocol("files", {"path": str(path)}, TRUTH, 0)
    with pytest.raises(PartialLabelFileError, match="no array 'lft' \\(did you mean 'left'\\?\\)"):
        apply_protocol("files", {"path": str(path), "key": "lft"}, TRUTH, 0)


def test_npy_cole_and_csl_encodings(tmp_path):
    ours = np.array([[1, -1, 0, 0], [0, 0, 1, -1], [-1, 0, 0, 1]], dtype=np.int8)
    cole = tmp_path / "formatted_train_labels_obs.npy"
    np.save(cole, ours.astype(np.float64))
    assert np.array_equal(apply_protocol("files", {"path": str(cole)}, TRUTH, 0), ours)
    csl = tmp_path / "csl.npz"
    np.savez(csl, labels=np.select([ours == 1, ours == -1], [1, 0], -1))
    assert np.array_equal(apply_protocol("files", {"path": str(csl), "encoding": "csl"}, TRUTH, 0), ours)


def test_array_file_errors(tmp_path):
    path = tmp_path / "bad.npy"
    np.save(path, np.zeros((2, 4)))
    with pytest.raises(PartialLabelFileError, match="bad.npy: 2 rows in the file, 3 in the dataset"):
        apply_protocol("files", {"path": str(path)}, TRUTH, 0)
    np.save(path, np.zeros((3, 5)))
    with pytest.raises(PartialLabelFileError, match="5 classes, the dataset has 4"):
        apply_protocol("files", {"path": str(path)}, TRUTH, 0)
    with pytest.raises(PartialLabelFileError, match="no such file"):
        read_partial_label_file(tmp_path / "absent.npz", 3, 4)


def test_files_accepts_natively_partial_training_labels(tmp_path):
    path = tmp_path / "p.npy"
    np.save(path, EXPECTED)
    partial = sp.csr_array(np.array([[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, -1, 0]], dtype=np.int8))
    out = apply_protocol("files", {"path": str(path)}, partial, 0)
    assert sp.issparse(out) and np.array_equal(out.toarray(), EXPECTED)


HILL_POSITIVES = {"full": 241_035, "left_0p75": 181_422, "left_0p4": 96_251, "single_label": 82_081}


@pytest.mark.parametrize("key, positives", HILL_POSITIVES.items())
def test_hill_published_sets_load_as_is(key, positives):
    folder = shared_path("data", "coco2014_labels")
    coco = np.load(folder / "coco2014_labels.npz")
    truth, ids = from_01(coco["train_labels"]), [str(i) for i in coco["train_image_ids"]]
    out = apply_protocol("files", {"path": str(folder / "hill_missing_labels_train2014.npz"), "key": key}, truth, 0,
                         ids=ids)
    counts = label_counts(out)
    assert counts.positives.sum() == positives and counts.negatives.sum() == 0
    annotated = out != UNANN
    assert np.array_equal(out[annotated], truth[annotated])
    assert (out == POS).any(axis=1).all()


def test_hill_text_list_equals_their_npz():
    folder = shared_path("data", "coco2014_labels")
    coco = np.load(folder / "coco2014_labels.npz")
    ids = [str(i) for i in coco["train_image_ids"]]
    truth = to_sparse(from_01(coco["train_labels"]))
    text = apply_protocol("files", {"path": str(folder / "raw" / "hill_coco_train_0.4left.txt.gz")}, truth, 0, ids=ids)
    npz = apply_protocol("files", {"path": str(folder / "hill_missing_labels_train2014.npz"), "key": "left_0p4"},
                         truth, 0, ids=ids)
    assert sp.issparse(text) and text.nnz == 96_251 and (text != npz).nnz == 0
