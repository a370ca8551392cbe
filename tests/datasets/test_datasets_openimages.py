"""OpenImages V6 / V3 plugins and the streaming reader, on files written in the published layouts."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from bench.io.errors import DataError
from bench.io.integrity import class_list_sha256
from bench.io.openimages import read_human_labels, row_index
from bench.labels.encoding import NEG, POS
from bench.plugins.registry import DATASETS
from tests.helpers.shared import SHARED

HEADER = ["ImageID", "Source", "LabelName", "Confidence"]
DESCRIPTIONS = SHARED / "data" / "openimages" / "oidv6-class-descriptions.csv"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16


def real_mids(count: int) -> list[str]:
    """The first ``count`` V6 MIDs (from ../shared when present, else well-formed stand-ins)."""
    if DESCRIPTIONS.is_file():
        with DESCRIPTIONS.open() as handle:
            return [row["LabelName"] for _, row in zip(range(count), csv.DictReader(handle))]
    return [f"/m/0{i:05x}" for i in range(count)]


def label_rows(seed: int = 0, images: int = 30, mids: list[str] | None = None, hex_ids: bool = True) -> list[list[str]]:
    """Rows in the human-labels layout, with duplicate and conflicting listings."""
    rng = np.random.default_rng(seed)
    mids = mids or real_mids(12)
    ids = sorted(f"{int(k):016x}" if hex_ids else f"img_{k}" for k in rng.integers(0, 2**62, images))
    rows = []
    for image_id in ids:
        for mid in rng.choice(mids, size=rng.integers(1, 6)):
            rows.append([image_id, str(rng.choice(["verification", "crowdsource-verification"])), str(mid),
                         str(int(rng.random() < 0.4))])
    rows += [rows[0][:3] + ["1"], rows[0][:3] + ["0"], rows[1]]
    return rows


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    return path


def reference(rows: list[list[str]], classes: list[str]) -> tuple[list[str], np.ndarray]:
    """Independent dict-based reading: positive if any listing says 1; images with a kept label."""
    seen: dict[tuple[str, str], set[str]] = {}
    for image_id, _, mid, conf in rows:
        if mid in classes:
            seen.setdefault((image_id, mid), set()).add(conf)
    ids = sorted({i for i, _ in seen})
    dense = np.zeros((len(ids), len(classes)), dtype=np.int8)
    for (image_id, mid), confs in seen.items():
        dense[ids.index(image_id), classes.index(mid)] = POS if "1" in confs else NEG
    return ids, dense


def v6(root: Path, **params):
    return DATASETS.get("openimages-v6")(**{"root": str(root), "verify": "off", "check_images": "off", **params}).load()


def write_v6(root: Path, train_rows, test_rows, classes: list[str]) -> Path:
    write_csv(root / "oidv6-train-annotations-human-imagelabels.csv", train_rows)
    write_csv(root / "test-annotations-human-imagelabels.csv", test_rows)
    (root / "oidv6-classes-trainable.txt").write_text("\n".join(classes) + "\n")
    return root


def test_v6_human_labels_match_an_independent_reading(tmp_path):
    mids = real_mids(12)
    classes = mids[:10]  # two MIDs of the file are not trainable: their rows are dropped
    train_rows, test_rows = label_rows(0, mids=mids), label_rows(1, images=8, mids=mids)
    data = v6(write_v6(tmp_path, train_rows, test_rows, classes))
    for split, rows in ((data.train, train_rows), (data.test, test_rows)):
        ids, dense = reference(rows, classes)
        assert list(split.ids) == ids
        assert np.array_equal(split.labels.toarray(), dense)
        assert split.labels.has_canonical_format
    assert data.class_names == classes and not data.fully_labelled
    assert data.meta["class_list_sha256"] == class_list_sha256(classes)
    stats = data.meta["ingest"]["train"]
    assert stats["rows"] == len(train_rows) and stats["conflicting_pairs"] >= 1
    assert stats["unknown_class_rows"] == sum(r[2] not in classes for r in train_rows)
    assert data.train.images[0] == f"{tmp_path}/train/{data.train.ids[0]}.jpg"
    assert data.meta["display_names"] == classes  # no descriptions file: the MIDs themselves
    if DESCRIPTIONS.is_file():
        (tmp_path / DESCRIPTIONS.name).write_bytes(DESCRIPTIONS.read_bytes())
        assert v6(tmp_path).meta["display_names"][0] == "Sprenger's tulip"


def test_streaming_in_small_blocks_and_string_ids_give_the_same_matrix(tmp_path):
    rows = label_rows(2, images=60)
    whole = read_human_labels(write_csv(tmp_path / "a.csv", rows), real_mids(12))
    blocks = read_human_labels(tmp_path / "a.csv", real_mids(12), block_size=512)
    assert (whole.labels != blocks.labels).nnz == 0 and list(whole.ids) == list(blocks.ids)
    named = label_rows(2, images=60, hex_ids=False)
    strings = read_human_labels(write_csv(tmp_path / "b.csv", named), real_mids(12), block_size=512)
    ids, dense = reference(named, real_mids(12))
    assert list(strings.ids) == ids and np.array_equal(strings.labels.toarray(), dense)


def test_class_list_from_the_labels(tmp_path):
    rows = label_rows(3, images=40)
    data = v6(write_v6(tmp_path, rows, label_rows(4, images=5), real_mids(3)), classes="labels", min_positives=3)
    positives = {}
    for _image_id, mid in {(r[0], r[2]) for r in rows if r[3] == "1"}:
        positives[mid] = positives.get(mid, 0) + 1
    assert data.class_names == sorted(m for m, n in positives.items() if n >= 3)
    ids, dense = reference(rows, data.class_names)
    assert list(data.train.ids) == ids and np.array_equal(data.train.labels.toarray(), dense)


def test_v6_class_count_and_user_hash_checks(tmp_path):
    root = write_v6(tmp_path, label_rows(0), label_rows(1, images=3), real_mids(12))
    with pytest.raises(DataError, match="12 classes, but OpenImages V6 .* has 9605"):
        v6(root, verify="full")
    with pytest.raises(DataError, match="differs from the given classes_sha256"):
        v6(root, classes_sha256="0" * 64)
    assert v6(root, classes_sha256=class_list_sha256(real_mids(12))).num_classes == 12


@pytest.mark.parametrize("bad_row, line, field, message", [
    (["0000000000000001", "verification", "person", "1"], 3, "LabelName", "not an OpenImages MID"),
    (["0000000000000001", "verification", "/m/01g317", "0.7"], 3, "Confidence", "'0.7' is not 0 or 1"),
    (["", "verification", "/m/01g317", "1"], 3, "ImageID", "empty ImageID"),
])
def test_bad_values_name_line_and_field(tmp_path, bad_row, line, field, message):
    path = write_csv(tmp_path / "x.csv", [["0000000000000000", "verification", "/m/01g317", "1"], bad_row])
    with pytest.raises(DataError, match=rf"x\.csv:{line}: field '{field}': .*{message}"):
        read_human_labels(path, None)


def test_malformed_rows_and_headers(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("ImageID,Source,LabelName,Confidence\n0000000000000000,verification,/m/01g317,1\n"
                    "0000000000000001,verification,/m/01g317\n")
    with pytest.raises(DataError, match=r"x\.csv:3: malformed CSV: expected 4 columns, got 3"):
        read_human_labels(path, None)
    write_csv(path, [], header=["ImageID", "Source", "Label", "Confidence"])
    with pytest.raises(DataError, match=r"x\.csv:1: field 'LabelName': missing column"):
        read_human_labels(path, None)
    (tmp_path / "oidv6-classes-trainable.txt").write_text("/m/01g317\nperson\n")
    write_v6(tmp_path / "r", label_rows(0), label_rows(1), real_mids(3))
    (tmp_path / "r" / "oidv6-classes-trainable.txt").write_text("/m/01g317\nperson\n")
    with pytest.raises(DataError, match=r"oidv6-classes-trainable\.txt:2: 'person' is not an OpenImages MID"):
        v6(tmp_path / "r")


def test_image_check_runs_over_the_compact_paths(tmp_path):
    root = write_v6(tmp_path, label_rows(5, images=6), label_rows(6, images=2), real_mids(12))
    data = v6(root, check_images="off")
    for split, folder in ((data.train, "train"), (data.test, "test")):
        (root / folder).mkdir()
        for image_id in split.ids:
            (root / folder / f"{image_id}.jpg").write_bytes(JPEG)
    (root / "train" / f"{data.train.ids[0]}.jpg").unlink()
    checked = v6(root, check_images="header", max_missing=0.5, missing_list_dir=str(tmp_path / "lists"))
    assert len(checked.train) == len(data.train) - 1 and list(checked.train.ids) == list(data.train.ids)[1:]
    assert type(checked.train.ids).__name__ == "HexIds"  # dropping rows keeps the compact id store
    (listing,) = (tmp_path / "lists").glob("openimages-v6-train-*.txt")
    assert listing.read_text().strip().endswith(f"{data.train.ids[0]}.jpg")


def test_miil_data_csv_layout(tmp_path):
    a, b, c = real_mids(3)
    body = (f'image,positive,negative,split\n000a.jpg,"[\'{a}\', \'{b}\']","[\'{c}\']",train\n'
            f'000b.jpg,"[\'{b}\']",[],train\n000c.jpg,[],"[\'{a}\']",val\n000d.jpg,[],[],train\n')
    (tmp_path / "data.csv").write_text(body)
    data = v6(tmp_path, layout="miil", classes="labels")
    assert data.class_names == sorted([a, b])
    col = {m: i for i, m in enumerate(data.class_names)}
    expected = np.zeros((2, 2), dtype=np.int8)
    expected[0, col[a]] = expected[0, col[b]] = expected[1, col[b]] = POS
    assert list(data.train.ids) == ["000a.jpg", "000b.jpg"] and np.array_equal(data.train.labels.toarray(), expected)
    assert list(data.test.ids) == ["000c.jpg"] and data.test.labels.toarray()[0, col[a]] == NEG
    assert data.train.images[0] == f"{tmp_path}/train/000a.jpg"
    (tmp_path / "data.csv").write_text(body.split("\n", 1)[1].replace("val\n", "holdout\n"))
    with pytest.raises(DataError, match=r"data\.csv:3: field 'split': split 'holdout'"):
        v6(tmp_path, layout="miil", classes="labels")


def write_v3(root: Path, mids: list[str], positives: list[int]) -> Path:
    """2017_11 layout: class k gets ``positives[k]`` positive images (and one negative each)."""
    rows, n = [], 0
    for k, count in enumerate(positives):
        for _ in range(count):
            rows.append([f"{n:016x}", "verification", mids[k], "1"])
            n += 1
        rows.append([f"{n:016x}", "verification", mids[k], "0"])
        n += 1
    release = root / "2017_11"
    write_csv(release / "train" / "annotations-human.csv", sorted(rows))
    write_csv(release / "test" / "annotations-human.csv",  # five test images, none of them a training image
              [[f"{n + k:016x}", "verification", mids[k], "1"] for k in range(5)])
    (release / "classes-trainable.txt").write_text("\n".join(mids) + "\n")
    return root


def test_v3_frequency_groups_rarest_first_ties_by_class_index(tmp_path):
    mids = real_mids(10)
    positives = [5, 1, 3, 3, 0, 9, 2, 1, 7, 4]
    data = DATASETS.get("openimages-v3")(root=str(write_v3(tmp_path, mids, positives)), verify="off",
                                         check_images="off").load()
    # ascending count, ties by index: 4(0) 1(1) 7(1) 6(2) 2(3) 3(3) 9(4) 0(5) 8(7) 5(9)
    assert data.class_groups == {"G1": [4, 1], "G2": [7, 6], "G3": [2, 3], "G4": [9, 0], "G5": [8, 5]}
    assert data.class_names == mids and len(data.test) == 5
    counts = np.bincount(data.train.labels.indices[data.train.labels.data == POS], minlength=10)
    assert counts.tolist() == positives
    with pytest.raises(DataError, match="10 classes, but OpenImages V3 .* has 5000"):
        DATASETS.get("openimages-v3")(root=str(tmp_path), check_images="off").load()


def test_row_index_sorted_fast_path_equals_the_general_path():
    rng = np.random.default_rng(7)
    keys = np.sort(rng.integers(0, 50, 400).astype(np.uint64))
    rows, uniques = row_index(keys)
    assert uniques.tolist() == sorted(set(keys.tolist())) and np.array_equal(uniques[rows], keys)
    shuffled = rng.permutation(keys)
    rows2, uniques2 = row_index(shuffled)
    assert np.array_equal(uniques2, uniques) and np.array_equal(uniques2[rows2], shuffled)
    assert rows.dtype == rows2.dtype == np.int64
