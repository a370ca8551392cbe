"""The shared readers and checks of bench.io: text (UTF-8, BOM), JSON fields, the npz reader, the
id checks, paths inside the dataset root (plain and compact sequences) and the safe writing of
missing-image lists."""
from __future__ import annotations

import io
import os
import stat
import zipfile

import numpy as np
import numpy.lib.format as npy_format
import pyarrow as pa
import pytest

from bench.io.checks import check_features, require_disjoint, require_rows, require_unique
from bench.io.errors import DataError
from bench.io.idseq import ArrowStrings, HexIds, hex_keys
from bench.io.images import check_dataset_images, default_list_dir, write_missing_list
from bench.io.jsonfields import entries, get_int, get_int_list, get_str, read_json, top_object
from bench.io.npz import read_npz
from bench.io.roots import outside_root, require_inside_root
from bench.io.text import decode_utf8, first_line, read_text
from bench.labels.encoding import from_01
from bench.plugins.dataset import DatasetData, Split


def test_text_accepts_a_bom_and_names_the_line_of_a_bad_byte(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"\xef\xbb\xbfabc\nd\xc3\xa9f\n")
    assert read_text(path, "x") == "abc\ndéf\n" and first_line(path, "x") == "abc"
    path.write_bytes(b"\xef\xbb\xbfabc\nde\xfff\n")
    with pytest.raises(DataError, match=r"t\.txt:2: not UTF-8 text: byte 0xff at column 3"):
        read_text(path, "x")
    with pytest.raises(DataError, match=r"t\.txt:1: not UTF-8 text: byte 0x80 at column 1"):
        decode_utf8(b"\x80", path)
    with pytest.raises(DataError, match=r"gone\.txt: x not found"):
        read_text(tmp_path / "gone.txt", "x")


def test_json_fields_are_type_checked(tmp_path):
    path = tmp_path / "a.json"
    path.write_bytes(b'\xef\xbb\xbf{"images": [{"id": 1, "name": "x", "ids": [1, 2]}], "n": NaN}')
    doc = top_object(read_json(path, "JSON"), path)
    (entry,) = entries(doc, "images", path)
    assert get_int(entry, "id", path, "images[0]") == 1 and get_str(entry, "name", path, "w") == "x"
    assert get_int_list(entry, "ids", path, "w") == [1, 2]
    for value, message in ((True, "got true"), ("1", "got a string '1'"), (1.0, "got the number 1.0"),
                           (None, "got null")):
        with pytest.raises(DataError, match=rf"a\.json: field 'id': images\[0\]: expected an integer, {message}"):
            get_int({"id": value}, "id", path, "images[0]")
    with pytest.raises(DataError, match="holds false"):
        get_int_list({"ids": [1, False]}, "ids", path, "w")
    with pytest.raises(DataError, match="field 'id': missing in w"):
        get_int({}, "id", path, "w")
    with pytest.raises(DataError, match="the top level is a list"):
        top_object([], path)
    with pytest.raises(DataError, match=r"field 'images': images\[1\] is null, expected an object"):
        entries({"images": [{}, None]}, "images", path)
    path.write_text("[" * 100000)
    with pytest.raises(DataError, match=r"a\.json(:1)?: malformed JSON"):
        read_json(path, "JSON")


def test_npz_reader_matches_numpy_and_names_damage(tmp_path):
    path = tmp_path / "a.npz"
    arrays = {"X": np.arange(12, dtype=np.float32).reshape(3, 4), "names": np.array(["a", "bb"]),
              "Y": np.eye(3, dtype=np.uint8)}
    np.savez_compressed(path, **arrays)
    got = read_npz(path)
    with np.load(path) as reference:
        assert set(got) == set(reference.files)
        for key in got:
            assert got[key].dtype == reference[key].dtype and np.array_equal(got[key], reference[key])
    data = path.read_bytes()
    for damaged, pattern in ((b"", "empty file"), (data[:40], "not a readable .npz archive"),
                             (data[:-30], "not a readable .npz archive"),
                             (b"PK\x03\x04" + bytes(60), "not a readable")):
        path.write_bytes(damaged)
        with pytest.raises(DataError, match=rf"a\.npz: {pattern}"):
            read_npz(path)
    header = io.BytesIO()  # a header that declares far more data than the member holds
    npy_format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**11,)})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", header.getvalue() + bytes(16))
    with pytest.raises(DataError, match=r"a\.npz: field 'X': declares a \(100000000000,\) float64 array"):
        read_npz(path)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", b"not an npy member")
    with pytest.raises(DataError, match=r"a\.npz: field 'X': unreadable array"):
        read_npz(path)
    np.savez(path, X=np.array([1, None], dtype=object))
    with pytest.raises(DataError, match=r"field 'X': holds Python objects"):
        read_npz(path)


def test_id_checks_name_the_first_offenders():
    with pytest.raises(DataError, match=r"f: field 'id': image id 3, 1 listed more than once \(2 times\)"):
        require_unique([1, 3, 3, 1, 2], "f", "id", "image id")
    keys = hex_keys(pa.array(["000000000000000a", "000000000000000b", "000000000000000a"]))
    with pytest.raises(DataError, match="ImageID '000000000000000a' listed more than once"):
        require_unique(HexIds(keys), "f", "ImageID", "ImageID")
    with pytest.raises(DataError, match="name 'x' listed more than once"):
        require_unique(ArrowStrings(pa.array(["x", "y", "x"])), "f", "name", "name")
    require_unique(["a", "b"], "f", "id", "id")
    with pytest.raises(DataError, match=r"t: field 'id': 2 id\(s\) in both .* first: 'c', 'a'"):
        require_disjoint(["a", "b", "c"], ["c", "d", "a"], "t", "id", "id")
    with pytest.raises(DataError, match=r"1 ImageID\(s\) in both .* first: '000000000000000a'"):
        require_disjoint(HexIds(keys[:1]), HexIds(keys[:2][::-1]), "t", "ImageID", "ImageID")
    with pytest.raises(DataError, match=r"1 image\(s\) in both .* first: 'x'"):
        require_disjoint(ArrowStrings(pa.array(["x", "y"])), ["z", "x"], "t", "image", "image")
    with pytest.raises(DataError, match=r"the training split is empty \(0 rows\)"):
        require_rows(0, "f", "train")


def test_feature_check_names_array_row_and_column():
    check_features(np.zeros((2, 3), np.float32), "f", "X")
    check_features(np.full((2, 3), 3e38), "f", "X")  # float64 still within float32 range
    with pytest.raises(DataError, match=r"f: field 'X': 1 value\(s\) .* first at row 1, column 2: 1e\+39"):
        check_features(np.array([[0.0, 0, 0], [0, 0, 1e39]]), "f", "X")
    with pytest.raises(DataError, match="first at row 0, column 1: nan"):
        check_features(np.array([[0.0, np.nan]], np.float32), "f", "X")
    with pytest.raises(DataError, match="must be a 2-D"):
        check_features(np.zeros(3), "f", "X")
    with pytest.raises(DataError, match="must be numbers, got dtype complex128"):
        check_features(np.zeros((1, 1), complex), "f", "X")


def test_paths_inside_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "x.jpg").write_bytes(b"x")
    (root / "a" / "inside.jpg").symlink_to(root / "a" / "x.jpg")
    (root / "a" / "out.jpg").symlink_to("/etc/hostname")
    (root / "b").symlink_to(tmp_path)
    paths = [str(root / "a" / "x.jpg"), str(root / "a" / "inside.jpg"), str(root / "a" / "missing.jpg"),
             str(root / "a" / ".." / "a" / "x.jpg"), str(root / "a" / "out.jpg")]
    assert outside_root(paths, root) == (4, "/etc/hostname")
    assert outside_root(paths[:4], root) is None
    assert outside_root([str(root / ".." / "x.jpg")], root) == (0, str(tmp_path / "x.jpg"))
    assert outside_root([str(root / "b" / "x.jpg")], root) == (0, str(tmp_path / "x.jpg"))
    assert outside_root(["/etc/hostname"], root) == (0, "/etc/hostname")
    assert outside_root([str(root / "a" / "..")], root) is None and outside_root([str(root / "..")], root)
    with pytest.raises(DataError, match=r"labels: field 'image': image 5 resolves to /etc/hostname, outside the "
                                        r"dataset root .*root \(allow_outside_root=true accepts it\)"):
        require_inside_root(paths, root, False, "labels", "image", lambda i: f"image {i + 1}")
    require_inside_root(paths, root, True, "labels", "image")


def test_paths_inside_the_root_for_compact_sequences(tmp_path):
    root = tmp_path / "root"
    (root / "train").mkdir(parents=True)
    ids = ["0000000000000001", "0000000000000002", "00000000000000ff"]
    keys = hex_keys(pa.array(ids))
    hex_paths = HexIds(keys, f"{root / 'train'}/", ".jpg")
    assert outside_root(hex_paths, root) is None
    (root / "train" / "0000000000000002.jpg").symlink_to("/etc/hostname")
    (root / "train" / "unlisted.jpg").symlink_to("/etc/hostname")
    assert outside_root(hex_paths, root) == (1, "/etc/hostname")
    assert outside_root(HexIds(keys[[0, 2]], f"{root / 'train'}/", ".jpg"), root) is None
    names = ArrowStrings(pa.array(["a.jpg", "sub/b.jpg", "../../../../../../../etc/hostname", "c.jpg"]),
                         f"{root / 'train'}/")
    assert outside_root(names, root) == (2, "/etc/hostname")
    assert outside_root(ArrowStrings(pa.array(["a.jpg", ".."]), f"{root / 'train'}/"), root) is None
    assert outside_root(ArrowStrings(pa.array(["a.jpg", "0000000000000002.jpg"]), f"{root / 'train'}/"),
                        root) == (1, "/etc/hostname")
    assert outside_root(HexIds(keys, f"{tmp_path}/", ".jpg"), root) == (0, str(tmp_path / f"{ids[0]}.jpg"))


def _split(tmp_path, missing: int, n: int = 4) -> Split:
    paths = []
    for i in range(n):
        path = tmp_path / f"{i}.jpg"
        if i >= missing:
            path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(16))
        paths.append(str(path))
    return Split(from_01(np.eye(n, 2, dtype=np.int8)), images=paths, ids=[str(i) for i in range(n)])


def test_missing_lists_go_beside_the_store_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_STORE", str(tmp_path / "results" / "runs.db"))
    assert default_list_dir() == tmp_path / "results" / "missing-images"
    split = _split(tmp_path, missing=1)
    data = check_dataset_images(DatasetData("toy", ["a", "b"], split, split), "exists", 0.5, None)
    listing = data.meta["missing_images"]["train"]["list"]
    assert os.path.dirname(listing) == str(tmp_path / "results" / "missing-images")
    assert stat.S_IMODE(os.stat(listing).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "results" / "missing-images").st_mode) == 0o700
    assert data.meta["missing_images"]["test"]["list"] != listing  # a second list never overwrites the first
    assert open(listing).read() == f"{split.images[0]}\n"


def test_missing_lists_never_follow_a_planted_symlink(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    folder = tmp_path / "lists"
    folder.mkdir()
    first = write_missing_list(folder, "toy-train", ["a"])
    for k in range(2, 100):  # every predictable name is a link to the victim
        (folder / f"{first.stem}-{k}.txt").symlink_to(victim)
    second = write_missing_list(folder, "toy-train", ["b"])
    third = write_missing_list(folder, "toy-train", ["c"])
    assert victim.read_text() == "precious\n" and first.read_text() == "a\n"
    assert not second.is_symlink() and second.read_text() == "b\n" and third.read_text() == "c\n"
    assert len({first, second, third}) == 3
    linked = tmp_path / "linked"
    linked.symlink_to(folder)
    with pytest.raises(DataError, match=r"linked: field 'missing_list_dir': the missing-image list folder is a "
                                        "symlink"):
        write_missing_list(linked, "toy-train", ["d"])
    (tmp_path / "plain").write_text("")
    with pytest.raises(DataError, match="plain.*cannot use the missing-image list folder"):
        write_missing_list(tmp_path / "plain" / "sub", "toy-train", ["d"])


def test_the_default_list_folder_planted_as_a_symlink_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_STORE", str(tmp_path / "results" / "bench.db"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "missing-images").symlink_to(elsewhere)
    split = _split(tmp_path, missing=1)
    with pytest.raises(DataError, match="missing-images: field 'missing_list_dir': .* is a symlink"):
        check_dataset_images(DatasetData("toy", ["a", "b"], split, split), "exists", 0.5, None)
    assert list(elsewhere.iterdir()) == []


def test_a_split_whose_every_image_is_missing_is_refused(tmp_path):
    split = _split(tmp_path, missing=4)
    with pytest.raises(DataError, match="all 4 images missing or unreadable"):
        check_dataset_images(DatasetData("toy", ["a", "b"], split, split), "exists", 1.0, str(tmp_path / "l"))
