"""The generic plugins: ``folder`` (images + a label CSV) and ``features`` (.npz / .parquet)."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from bench.io.errors import DataError
from bench.labels.encoding import NEG, POS, UNANN, from_01
from bench.plugins.registry import DATASETS
from bench.runs.resolve import prepare, resolve_dataset


def write_folder(root, rows, header="image,split,cat,dog,bird"):
    root.mkdir(parents=True, exist_ok=True)
    for name in {r.split(",")[0] for r in rows}:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (200, 10, 10)).save(root / name)
    (root / "labels.csv").write_text("\n".join([header, *rows]) + "\n")
    return root


ROWS = ["a/1.jpg,train,1,0,0", "a/2.jpg,test,0,1,1", "b/3.jpg,train,1,1,0", "b/4.jpg,train,0,0,1", "b/5.jpg,test,1,0,0"]


def test_folder_01_labels_are_fully_labelled_and_take_protocols(tmp_path):
    root = write_folder(tmp_path / "imgs", ROWS)
    data = DATASETS.get("folder")(root=str(root), check_images="header").load()
    assert data.class_names == ["cat", "dog", "bird"] and data.fully_labelled
    assert data.train.ids == ["a/1.jpg", "b/3.jpg", "b/4.jpg"] and data.test.ids == ["a/2.jpg", "b/5.jpg"]
    assert np.array_equal(data.train.labels, from_01(np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1]])))
    assert data.train.images[0] == str(root / "a" / "1.jpg")
    prepared = prepare(resolve_dataset(f"folder[root={root}]+rpa[p=0.5]"), val_fraction=0.0)
    assert prepared.manifest.labels.shape == (3, 3) and prepared.manifest.stats().spearman is not None


def test_folder_partial_encoding_and_errors(tmp_path):
    rows = ["a/1.jpg,train,1,-1,0", "a/2.jpg,test,0,1,-1"]
    data = DATASETS.get("folder")(root=str(write_folder(tmp_path / "p", rows)), encoding="ours").load()
    assert data.train.labels.tolist() == [[POS, NEG, UNANN]] and not data.fully_labelled
    root = write_folder(tmp_path / "bad", ["a/1.jpg,train,1,0,0", "a/2.jpg,test,0,2,0"])
    with pytest.raises(DataError, match=r"labels\.csv:3: field 'dog': '2' is not one of \(0, 1\)"):
        DATASETS.get("folder")(root=str(root)).load()
    root = write_folder(tmp_path / "split", ["a/1.jpg,train,1,0,0", "a/2.jpg,val,0,1,0"])
    with pytest.raises(DataError, match=r"labels\.csv:3: field 'split': split 'val'"):
        DATASETS.get("folder")(root=str(root)).load()
    root = write_folder(tmp_path / "header", ["a/1.jpg,train,1"], header="file,split,cat")
    with pytest.raises(DataError, match=r"labels\.csv:1: field 'image': missing column"):
        DATASETS.get("folder")(root=str(root)).load()
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "labels.csv").write_text("image,split,cat\na.jpg,train,1\nb.jpg,test,0\n")
    with pytest.raises(DataError, match=r"train images: 1 of 1 images missing.*folder-train-[0-9-]+\.txt"):
        DATASETS.get("folder")(root=str(tmp_path / "imgs"), missing_list_dir=str(tmp_path)).load()


def test_features_npz_both_layouts_agree(tmp_path):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(10, 4)), (rng.random((10, 3)) < 0.4).astype(np.int8)
    split = np.array(["train"] * 7 + ["test"] * 3)
    np.savez(tmp_path / "one.npz", X=X, Y=Y, split=split, class_names=np.array(["x", "y", "z"]))
    np.savez(tmp_path / "two.npz", X_train=X[:7], Y_train=Y[:7], X_test=X[7:], Y_test=Y[7:])
    one = DATASETS.get("features")(path=str(tmp_path / "one.npz")).load()
    two = DATASETS.get("features")(path=str(tmp_path / "two.npz")).load()
    assert one.class_names == ["x", "y", "z"] and two.class_names == ["c0", "c1", "c2"]
    for data in (one, two):
        assert data.fully_labelled and data.train.features.dtype == np.float32
        assert np.array_equal(data.train.labels, from_01(Y[:7])) and np.allclose(data.test.features, X[7:])
    np.savez(tmp_path / "bad.npz", X=X, Y=Y + 1, split=split)
    with pytest.raises(DataError, match=r"bad\.npz: field 'Y': train row \d+, class \d+: 2 is not one of \(0, 1\)"):
        DATASETS.get("features")(path=str(tmp_path / "bad.npz")).load()
    np.savez(tmp_path / "nosplit.npz", X=X, Y=Y)
    with pytest.raises(DataError, match="field 'split'"):
        DATASETS.get("features")(path=str(tmp_path / "nosplit.npz")).load()


def test_features_parquet_with_partial_labels(tmp_path):
    table = pa.table({"X": [[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]], "Y": [[1, -1], [0, 1], [-1, 0]],
                      "split": ["train", "train", "test"], "id": ["p", "q", "r"]})
    table = table.replace_schema_metadata({"class_names": json.dumps(["u", "v"])})
    pq.write_table(table, tmp_path / "f.parquet")
    data = DATASETS.get("features")(path=str(tmp_path / "f.parquet"), encoding="ours").load()
    assert data.class_names == ["u", "v"] and data.train.ids == ["p", "q"] and not data.fully_labelled
    assert data.train.labels.tolist() == [[POS, NEG], [UNANN, POS]]
    assert data.test.features.tolist() == [[2.0, 3.0]]
    pq.write_table(table.drop_columns(["split"]), tmp_path / "g.parquet")
    with pytest.raises(DataError, match=r"g\.parquet: field 'split': missing column"):
        DATASETS.get("features")(path=str(tmp_path / "g.parquet")).load()
