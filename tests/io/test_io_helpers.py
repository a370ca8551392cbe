"""Engine-side dataset I/O helpers: errors, integrity checks, image checks, sparse builder, ids, Cole split."""
from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pytest

from bench.io.cole import cole_order, cole_val_index
from bench.io.errors import DataError, json_errors
from bench.io.idseq import ArrowStrings, HexIds, hex_keys, hex_text
from bench.io.images import check_dataset_images, check_images, drop_bad_images
from bench.io.integrity import KnownRelease, check_class_list, class_list_sha256, verify_release
from bench.io.sparse_labels import csr_from_triplets
from bench.labels.encoding import NEG, POS, UNANN, from_01
from bench.plugins.dataset import DatasetData, Split

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


def test_data_error_names_file_line_and_field():
    assert str(DataError("bad value", "a.csv", 7, "Confidence")) == "a.csv:7: field 'Confidence': bad value"
    assert str(DataError("gone", "a.csv")) == "a.csv: gone"
    assert str(DataError("no file")) == "no file"


def test_json_errors_reports_the_line_of_malformed_json(tmp_path):
    import json
    path = tmp_path / "x.json"
    path.write_text('{\n "a": 1,\n "b": [1, 2,,]\n}')
    with pytest.raises(DataError, match=r"x\.json:3: malformed JSON"):
        with json_errors(path):
            json.loads(path.read_text())
    with pytest.raises(DataError, match="field 'image_id'"):
        with json_errors(path):
            {}["image_id"]


def test_class_list_fingerprint_is_sha256_of_newline_joined_names():
    assert class_list_sha256(["a", "b"]) == hashlib.sha256(b"a\nb").hexdigest()
    assert class_list_sha256(["a", "b"]) != class_list_sha256(["b", "a"])


def test_class_list_checks_count_order_duplicates_and_user_hash():
    release = KnownRelease("toy", 2, class_list_sha256(["a", "b"]), {"train": 3})
    assert check_class_list(["a", "b"], release, "src") == class_list_sha256(["a", "b"])
    with pytest.raises(DataError, match="3 classes, but toy has 2"):
        check_class_list(["a", "b", "c"], release, "src")
    with pytest.raises(DataError, match="differs from toy"):
        check_class_list(["b", "a"], release, "src")
    with pytest.raises(DataError, match="'a' appears more than once"):
        check_class_list(["a", "a"], KnownRelease("toy", 2), "src")
    with pytest.raises(DataError, match="given classes_sha256"):
        check_class_list(["a", "b"], release, "src", expected_sha256="0" * 64)


def test_verify_levels_split_sizes():
    release = KnownRelease("toy", 2, None, {"train": 3, "test": 2})
    with pytest.raises(DataError, match="train split has 4 images, toy has 3"):
        verify_release(["a", "b"], {"train": 4, "test": 2}, release, "src", "full")
    verify_release(["a", "b"], {"train": 4, "test": 2}, release, "src", "classes")
    verify_release(["a", "b", "c"], {"train": 4}, release, "src", "off")


def _split_with_images(tmp_path, n_missing: int, n: int = 10) -> Split:
    paths = []
    for i in range(n):
        path = tmp_path / f"{i}.jpg"
        if i >= n_missing:
            path.write_bytes(JPEG)
        paths.append(str(path))
    labels = from_01(np.eye(n, 3, dtype=np.int8))
    return Split(labels, images=paths, ids=[str(i) for i in range(n)])


def test_check_images_modes(tmp_path):
    good, empty, text, gone = (tmp_path / n for n in ("g.jpg", "e.jpg", "t.jpg", "x.jpg"))
    good.write_bytes(JPEG)
    empty.write_bytes(b"")
    text.write_text("not an image at all")
    paths = [str(p) for p in (good, empty, text, gone)]
    assert check_images(paths, "exists").tolist() == [1, 3]
    assert check_images(paths, "header").tolist() == [1, 2, 3]
    assert check_images(paths, "off").tolist() == []


def test_missing_images_refused_above_threshold_with_list_file(tmp_path):
    split = _split_with_images(tmp_path, n_missing=2)
    lists = tmp_path / "lists"
    with pytest.raises(DataError, match=r"2 of 10 images missing.*20\.00% > max_missing=0\.1.*missing-[0-9-]+\.txt"):
        drop_bad_images(split, "exists", 0.1, lists, "missing", "toy")
    (listing,) = lists.glob("missing-*.txt")
    assert listing.read_text().splitlines() == split.images[:2]
    kept = drop_bad_images(split, "exists", 0.2, lists, "missing", "toy")
    assert kept.dropped.tolist() == [0, 1] and len(kept.split) == 8
    assert kept.list_path != listing and listing.read_text().splitlines() == split.images[:2]
    assert kept.split.ids == [str(i) for i in range(2, 10)]
    assert np.array_equal(kept.split.labels, split.labels[2:])


def test_reference_val_index_cannot_survive_dropped_rows(tmp_path):
    train = _split_with_images(tmp_path, n_missing=1)
    data = DatasetData("toy", ["a", "b", "c"], train, train, val_index=np.array([3, 4]))
    with pytest.raises(DataError, match="reference validation split cannot be reproduced"):
        check_dataset_images(data, "exists", 0.5, str(tmp_path))
    data.val_index = None
    out = check_dataset_images(data, "exists", 0.5, str(tmp_path))
    assert out.meta["missing_images"]["train"]["count"] == 1 and len(out.train) == 9


def test_csr_from_triplets_positive_wins_and_matches_dense_reference():
    rng = np.random.default_rng(0)
    n, c, m = 40, 7, 300
    rows, cols, pos = rng.integers(0, n, m), rng.integers(0, c, m), rng.random(m) < 0.5
    labels, stats = csr_from_triplets(rows, cols, pos, (n, c))
    expected = np.zeros((n, c), dtype=np.int8)
    for r, k, p in zip(rows, cols, pos):
        if p:
            expected[r, k] = POS
        elif expected[r, k] == UNANN:
            expected[r, k] = NEG
    assert np.array_equal(labels.toarray(), expected)
    assert labels.has_canonical_format and labels.dtype == np.int8
    pairs = {}
    for r, k, p in zip(rows, cols, pos):
        pairs.setdefault((r, k), set()).add(bool(p))
    assert stats["duplicate_rows"] == m - len(pairs)
    assert stats["conflicting_pairs"] == sum(len(v) == 2 for v in pairs.values())


def test_hex_ids_round_trip_and_fall_back():
    texts = ["000002b66c9c498e", "ffffffffffffffff", "0000000000000000"]
    keys = hex_keys(pa.array(texts))
    assert keys.tolist() == [int(t, 16) for t in texts]
    assert hex_text(keys).astype(str).tolist() == texts
    assert hex_keys(pa.array(["000002b66c9c498E"])) is None
    assert hex_keys(pa.array(["abc"])) is None
    ids = HexIds(keys, "/img/", ".jpg")
    assert ids[0] == "/img/000002b66c9c498e.jpg" and ids[-1] == "/img/0000000000000000.jpg"
    assert list(ids[np.array([2, 0])]) == ["/img/0000000000000000.jpg", "/img/000002b66c9c498e.jpg"]
    assert list(ids[1:2].with_affixes("", "")) == ["ffffffffffffffff"]
    strings = ArrowStrings(pa.array(["a.jpg", "b.jpg"]), "r/")
    assert list(strings) == ["r/a.jpg", "r/b.jpg"] and list(strings[np.array([False, True])]) == ["r/b.jpg"]
    with pytest.raises(IndexError):
        strings[2]


def test_cole_order_sorts_ids_as_text_and_val_split_follows_their_recipe():
    assert cole_order([9, 25, 100, 30]) == [100, 25, 30, 9]
    val = cole_val_index(82081)
    assert val.size == 16416 and np.all(np.diff(val) > 0)
    # RandomState(1200).permutation(10) = [9 4 6 1 8 5 2 0 7 3] (numpy's frozen legacy stream):
    # n_val = round(0.2 * 10) = 2, the last two entries, sorted.
    assert cole_val_index(10).tolist() == [3, 7]
    # round(0.2 * 12) = round(2.4) = 2; permutation(12) ends with [..., 9, 3].
    assert cole_val_index(12).tolist() == [3, 9]
    assert cole_val_index(2).tolist() == []
