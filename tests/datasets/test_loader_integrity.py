"""Every loader refuses input that would corrupt labels or leak test images, as one DataError line
naming the file and the field or row: duplicate ids, train/test overlap, ill-typed JSON, duplicate
class columns, non-finite features, damaged archives, empty splits, undecodable bytes, paths outside
the dataset root; a UTF-8 byte-order mark is accepted wherever a CSV or text file is read."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from bench.core.params import ParamError
from bench.io.errors import DataError
from bench.plugins.registry import DATASETS
from tests.datasets.loader_fixtures import (
    HEADER,
    VOC_CLASSES,
    WRITERS,
    feature_arrays,
    lvis_annotation,
    lvis_image,
    write_features_npz,
)

BOM = b"\xef\xbb\xbf"


def load(case: str, root: Path, **extra):
    name, writer = WRITERS[case]
    params = writer(root)
    return DATASETS.get(name)(**{**params, **extra})


def edit_json(path: Path, edit) -> None:
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def refused(plugin, pattern: str, file: str) -> DataError:
    with pytest.raises(DataError) as info:
        plugin.load()
    message = str(info.value)
    assert "\n" not in message and info.value.file is not None and file in message, message
    assert re.search(pattern, message), message
    return info.value


COCO_TRAIN, COCO_TEST = "annotations/instances_train2014.json", "annotations/instances_val2014.json"
LVIS_TRAIN, LVIS_TEST = "annotations/lvis_v1_train.json", "annotations/lvis_v1_val.json"
MAIN = "VOC2007/ImageSets/Main"


def _set(doc, key, index, field, value):
    doc[key][index][field] = value


# case -> (loader, file to edit, edit of its parsed JSON, message pattern)
JSON_CASES = {
    "coco duplicate image id": ("coco", COCO_TRAIN, lambda d: _set(d, "images", 1, "id", 9),
                                r"field 'id': images\[1\]: id 9 already used"),
    "coco category_id true": ("coco", COCO_TRAIN, lambda d: _set(d, "annotations", 0, "category_id", True),
                              r"field 'category_id': annotations\[0\]: expected an integer, got true"),
    "coco image_id string": ("coco", COCO_TRAIN, lambda d: _set(d, "annotations", 2, "image_id", "25"),
                             r"field 'image_id': annotations\[2\]: expected an integer, got a string '25'"),
    "coco id float": ("coco", COCO_TRAIN, lambda d: _set(d, "images", 0, "id", 9.0),
                      r"field 'id': images\[0\]: expected an integer, got the number 9.0"),
    "coco file_name null": ("coco", COCO_TRAIN, lambda d: _set(d, "images", 0, "file_name", None),
                            r"field 'file_name': image 9: expected a non-empty string, got null"),
    "coco duplicate category name": ("coco", COCO_TRAIN, lambda d: _set(d, "categories", 2, "name", "person"),
                                     r"field 'name': category name 'person' listed more than once"),
    "coco duplicate category id": ("coco", COCO_TRAIN, lambda d: _set(d, "categories", 2, "id", 1),
                                   r"field 'id': categories\[2\]: id 1 already used"),
    "coco duplicate file_name": ("coco", COCO_TRAIN, lambda d: _set(d, "images", 1, "file_name", "000000000009.jpg"),
                                 r"field 'file_name': file_name '000000000009.jpg' listed more than once"),
    "coco annotations not a list": ("coco", COCO_TRAIN, lambda d: d.update(annotations={"0": 1}),
                                    r"field 'annotations': is an object, expected a list"),
    "coco image entry not an object": ("coco", COCO_TEST, lambda d: d["images"].append(7),
                                       r"field 'images': images\[3\] is the number 7, expected an object"),
    "coco no annotation": ("coco", COCO_TEST, lambda d: d.update(annotations=[]),
                           r"the test split is empty \(0 annotated images\)"),
    "lvis duplicate image id": ("lvis", LVIS_TRAIN, lambda d: _set(d, "images", 1, "id", 10),
                                r"field 'id': images\[1\]: id 10 already used"),
    "lvis unknown not-exhaustive id": (
        "lvis", LVIS_TRAIN, lambda d: _set(d, "images", 0, "not_exhaustive_category_ids", [424242]),
        r"field 'not_exhaustive_category_ids': category 424242 of image 10 is not in 'categories'"),
    "lvis neg ids hold a string": ("lvis", LVIS_TRAIN, lambda d: _set(d, "images", 1, "neg_category_ids", ["3"]),
                                   r"field 'neg_category_ids': image 5: expected a list of integers, holds a string"),
    "lvis bool category": ("lvis", LVIS_TEST, lambda d: _set(d, "annotations", 0, "category_id", False),
                           r"field 'category_id': annotations\[0\]: expected an integer, got false"),
    "lvis orphan annotation": ("lvis", LVIS_TEST, lambda d: d["annotations"].append(lvis_annotation(99, 77, 3)),
                               r"field 'image_id': annotation refers to image 77, absent from 'images'"),
    "lvis frequency a list": ("lvis", LVIS_TRAIN, lambda d: _set(d, "categories", 0, "frequency", ["f"]),
                              r"field 'frequency': category 3 has frequency \['f'\], expected r/c/f"),
    "lvis bad coco_url": ("lvis", LVIS_TRAIN, lambda d: _set(d, "images", 0, "coco_url", "x.jpg"),
                          r"field 'coco_url': image 10: coco_url 'x.jpg' does not end in <folder>/<file>"),
}


@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_json_loaders_refuse_duplicates_and_ill_typed_fields(tmp_path, case):
    loader, file, edit, pattern = JSON_CASES[case]
    plugin = load(loader, tmp_path)
    edit_json(tmp_path / file, edit)
    refused(plugin, pattern, Path(file).name)


def test_coco_duplicate_id_no_longer_moves_labels_to_another_file(tmp_path):
    """Before: the second image with id 9 replaced the first in pycocotools' index, so image 9's
    labels were attached to the other file and the loader exited 0."""
    plugin = load("coco", tmp_path)
    edit_json(tmp_path / COCO_TRAIN, lambda d: d["images"].append({"id": 9, "file_name": "elsewhere.jpg"}))
    refused(plugin, r"images\[4\]: id 9 already used", "instances_train2014.json")


@pytest.mark.parametrize("loader, file", [("coco", COCO_TRAIN), ("lvis", LVIS_TEST)])
@pytest.mark.parametrize("top", [[], "x", 3, None])
def test_a_json_top_level_that_is_not_an_object(tmp_path, loader, file, top):
    plugin = load(loader, tmp_path)
    (tmp_path / file).write_text(json.dumps(top))
    refused(plugin, r"the top level is .*, expected an object", Path(file).name)


def test_coco_and_lvis_refuse_an_image_in_both_splits(tmp_path):
    coco = load("coco", tmp_path / "c")
    train = json.loads((tmp_path / "c" / COCO_TRAIN).read_text())

    def leak(doc):
        doc["images"].append(train["images"][0])
        doc["annotations"].append({**train["annotations"][0], "id": 999})
    edit_json(tmp_path / "c" / COCO_TEST, leak)
    refused(coco, r"field 'id': 1 image id\(s\) in both the training and the test split \(test leakage\), first: '9'",
            "instances_val2014.json")
    lvis = load("lvis", tmp_path / "l")

    def leak_lvis(doc):
        doc["images"].append(lvis_image(10, "train2017", [], []))
        doc["annotations"].append(lvis_annotation(99, 10, 3))
    edit_json(tmp_path / "l" / LVIS_TEST, leak_lvis)
    refused(lvis, r"1 image id\(s\) in both .* first: '10'", "lvis_v1_val.json")


def test_lvis_two_ids_with_one_image_file(tmp_path):
    plugin = load("lvis", tmp_path)
    edit_json(tmp_path / LVIS_TRAIN, lambda d: _set(d, "images", 1, "coco_url", d["images"][0]["coco_url"]))
    refused(plugin, r"field 'coco_url': image file '.*000000000010.jpg' listed more than once", "lvis_v1_train.json")


def test_voc_duplicate_ids_overlap_and_empty_files(tmp_path):
    plugin = load("voc2007", tmp_path)
    bird = tmp_path / MAIN / "bird_trainval.txt"
    original = bird.read_text()
    bird.write_text(original + original.splitlines()[0] + "\n")
    refused(plugin, r"bird_trainval\.txt:7: field 'image id': image id '000005' listed again \(first on line 1\)",
            "bird_trainval.txt")
    bird.write_text(original)
    for name in VOC_CLASSES:  # the first training image is also a test image
        test, train = tmp_path / MAIN / f"{name}_test.txt", tmp_path / MAIN / f"{name}_trainval.txt"
        test.write_text(test.read_text() + train.read_text().splitlines()[0] + "\n")
    refused(plugin, r"aeroplane_test\.txt: field 'image id': 1 image id\(s\) in both .* first: '000005'",
            "aeroplane_test.txt")
    for name in VOC_CLASSES:
        (tmp_path / MAIN / f"{name}_test.txt").write_text("")
    refused(plugin, r"aeroplane_test\.txt: lists no image \(empty class file\)", "aeroplane_test.txt")


def test_voc_bytes_that_are_not_utf8_and_a_bom(tmp_path):
    plugin = load("voc2007", tmp_path)
    dog = tmp_path / MAIN / "dog_test.txt"
    lines = dog.read_bytes().splitlines(keepends=True)
    dog.write_bytes(b"".join(lines[:2]) + b"00\xff003 -1\n" + b"".join(lines[3:]))
    refused(plugin, r"dog_test\.txt:3: not UTF-8 text: byte 0xff at column 3", "dog_test.txt")
    dog.write_bytes(BOM + b"".join(lines))
    assert len(plugin.load().test) == 4


FOLDER_CASES = {
    "duplicate row": ("a/1.jpg,train,1,0,0", r"labels\.csv:7: field 'image': image 'a/1.jpg' listed twice in train "
                                             r"\(first on line 2\)"),
    "train and test": ("a/1.jpg,test,1,0,0", r"labels\.csv:7: field 'image': image 'a/1.jpg' listed in both train "
                                             r"\(line 2\) and test: test leakage"),
    "same file spelled twice": ("a/./1.jpg,test,1,0,0", r"labels\.csv:7: field 'image': image 'a/./1.jpg' listed in "
                                                        r"both train"),
}


@pytest.mark.parametrize("case", sorted(FOLDER_CASES))
def test_folder_refuses_an_image_listed_twice(tmp_path, case):
    row, pattern = FOLDER_CASES[case]
    plugin = load("folder", tmp_path)
    with open(tmp_path / "labels.csv", "a") as handle:
        handle.write(row + "\n")
    refused(plugin, pattern, "labels.csv")


def test_folder_header_problems(tmp_path):
    plugin = load("folder", tmp_path)
    csv_path = tmp_path / "labels.csv"
    body = csv_path.read_text().split("\n", 1)[1]
    csv_path.write_text("image,split,cat,dog,cat\n" + body)  # pandas read this as cat, dog, cat.1
    refused(plugin, r"labels\.csv:1: field 'cat': column 'cat' appears more than once in the header", "labels.csv")
    csv_path.write_bytes(b"")
    refused(plugin, r"labels\.csv:1: empty file", "labels.csv")
    csv_path.write_text("image,split,cat,dog,bird\n")
    refused(plugin, r"labels\.csv: field 'split': no train rows", "labels.csv")
    csv_path.write_bytes(b"image,split,cat,dog,bird\n" + b"a/1.jpg,train,1,\xe9,0\n")
    refused(plugin, r"labels\.csv:2: not UTF-8 text: byte 0xe9 at column 17", "labels.csv")
    csv_path.write_text("image,split,cat,dog,bird\n" + body.replace("b/3.jpg,train,1,1,0", "b/3.jpg,train,1,1"))
    refused(plugin, r"labels\.csv:4: malformed CSV: expected 5 fields, got 4", "labels.csv")
    csv_path.write_bytes(BOM + b"image,split,cat,dog,bird\n" + body.encode())
    assert plugin.load().class_names == ["cat", "dog", "bird"]


def test_openimages_bom_overlap_empty_and_undecodable(tmp_path):
    v6 = load("openimages-v6", tmp_path / "v6")
    train = tmp_path / "v6" / "oidv6-train-annotations-human-imagelabels.csv"
    test = tmp_path / "v6" / "test-annotations-human-imagelabels.csv"
    good_train, good_test = train.read_bytes(), test.read_bytes()
    train.write_bytes(BOM + good_train)  # refused before as a missing column '\ufeffImageID'
    classes = tmp_path / "v6" / "oidv6-classes-trainable.txt"
    classes.write_bytes(BOM + classes.read_bytes())
    (tmp_path / "v6" / "oidv6-class-descriptions.csv").write_bytes(BOM + b"LabelName,DisplayName\n/m/01g317,Person\n")
    data = v6.load()
    assert len(data.train) == 5 and data.meta["display_names"][0] == "Person"
    test.write_bytes(good_test + good_train.split(b"\n")[1] + b"\n")
    refused(v6, r"field 'ImageID': 1 ImageID\(s\) in both the training and the test split \(test leakage\), "
                r"first: '0000000000001000'", "test-annotations-human-imagelabels.csv")
    test.write_text(HEADER + "\n")
    refused(v6, r"test-annotations-human-imagelabels\.csv: empty split: no label rows after the header",
            "test-annotations-human-imagelabels.csv")
    test.write_bytes(b"")
    refused(v6, r"test-annotations-human-imagelabels\.csv:1: empty file", "test-annotations-human-imagelabels.csv")
    test.write_bytes(good_test.replace(b"verification", b"verific\xc3\x28tion", 1))
    refused(v6, r"test-annotations-human-imagelabels\.csv:2: field 'Source': not UTF-8 text", "test-annotations")
    test.write_bytes(b"Image\xffID,Source,LabelName,Confidence\n")
    refused(v6, r"test-annotations-human-imagelabels\.csv:1: not UTF-8 text: byte 0xff at column 6",
            "test-annotations")
    v3 = load("openimages-v3", tmp_path / "v3")
    (tmp_path / "v3" / "2017_11" / "train" / "annotations-human.csv").write_text(HEADER + "\n")
    refused(v3, r"empty split: no label rows after the header", "annotations-human.csv")


def test_miil_overlap_and_bom(tmp_path):
    plugin = load("openimages-v6-miil", tmp_path)
    data_csv = tmp_path / "data.csv"
    good = data_csv.read_bytes()
    data_csv.write_bytes(BOM + good)
    assert len(plugin.load().train) == 3
    data_csv.write_bytes(good + good.split(b"\n")[1].replace(b",train", b",val") + b"\n")
    refused(plugin, r"data\.csv: field 'image': 1 image\(s\) in both the training and the test split .*'000a\.jpg'",
            "data.csv")
    data_csv.write_bytes(b"")
    refused(plugin, r"data\.csv:1: empty first line", "data.csv")


def features(tmp_path: Path, **arrays) -> Path:
    path = tmp_path / "f.npz"
    np.savez(path, **arrays)
    return path


def split_arrays(**overrides):
    a = feature_arrays()
    base = {"X_train": a["X"][:7], "Y_train": a["Y"][:7], "X_test": a["X"][7:], "Y_test": a["Y"][7:]}
    return {**base, **overrides}


def test_features_refuse_non_finite_and_out_of_range_values(tmp_path):
    X = feature_arrays()["X"]
    cases = [
        (split_arrays(X_test=np.where(np.arange(12).reshape(3, 4) == 6, np.inf, X[7:])),
         r"f\.npz: field 'X_test': 1 value\(s\) not finite or beyond the float32 range; first at row 1, column 2: inf"),
        (split_arrays(X_train=np.where(np.arange(28).reshape(7, 4) == 9, np.nan, X[:7])),
         r"field 'X_train': .* first at row 2, column 1: nan"),
        (split_arrays(X_train=np.where(np.arange(28).reshape(7, 4) == 3, 1e300, X[:7])),
         r"field 'X_train': .*beyond the float32 range; first at row 0, column 3: 1e\+300"),
        (split_arrays(X_train=X[:7].astype(str)), r"field 'X_train': features must be numbers, got dtype <U"),
        (split_arrays(X_train=X[:0], Y_train=feature_arrays()["Y"][:0]), r"f\.npz: the training split is empty"),
        (split_arrays(Y_test=feature_arrays()["Y"][7:] * 2.5), r"field 'Y_test': test row 0, class 0: 2\.5 is not"),
        (split_arrays(ids_train=np.array(["a", "b", "a", "c", "d", "e", "f"])),
         r"field 'ids_train': id 'a' listed more than once"),
        (split_arrays(ids_train=np.array(list("abcdefg")), ids_test=np.array(["x", "g", "y"])),
         r"field 'ids': 1 id\(s\) in both the training and the test split \(test leakage\), first: 'g'"),
        (split_arrays(class_names=np.array(["a", "b", "a"])), r"field 'class_names': class name 'a' listed more"),
        (dict(X=X, Y=feature_arrays()["Y"], split=np.array(["train"] * 9 + ["test"])[:9]),
         r"field 'split': split must be a 1-D array of 10 strings"),
    ]
    for arrays, pattern in cases:
        refused(DATASETS.get("features")(path=str(features(tmp_path, **arrays))), pattern, "f.npz")


def test_a_nan_feature_used_to_fail_later_naming_no_input(tmp_path):
    """Before: a NaN in X_train loaded, and training failed with a message about "scores"."""
    X = feature_arrays()["X"].copy()
    X[4, 0] = np.nan
    arrays = dict(X=X, Y=feature_arrays()["Y"], split=np.array(["train"] * 7 + ["test"] * 3))
    refused(DATASETS.get("features")(path=str(features(tmp_path, **arrays))),
            r"f\.npz: field 'X': 1 value\(s\) not finite .*first at row 4, column 0: nan", "f.npz")


@pytest.mark.parametrize("damage, pattern", [
    (lambda b: b[: len(b) // 2], r"not a readable \.npz archive"),
    (lambda b: b"", r"empty file, expected a \.npz archive"),
    (lambda b: bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8)), r"not a readable \.npz"),
    (lambda b: b"\x93NUMPY" + b[6:200], r"not a readable \.npz archive"),
])
@pytest.mark.parametrize("case", ["features-npz", "scene"])
def test_damaged_npz_is_one_line_naming_the_file(tmp_path, case, damage, pattern):
    plugin = load(case, tmp_path)
    path = next(tmp_path.glob("*.npz"))
    path.write_bytes(damage(path.read_bytes()))
    refused(plugin, pattern, path.name)


def test_pickled_arrays_are_refused_not_advised(tmp_path):
    path = write_features_npz(tmp_path)["path"]
    arrays = dict(np.load(path))
    arrays["class_names"] = np.array(["x", None, "z"], dtype=object)
    np.savez(path, **arrays)
    refused(DATASETS.get("features")(path=path), r"field 'class_names': holds Python objects", "features.npz")


def test_scene_labels_and_features_are_checked(tmp_path):
    plugin = load("scene", tmp_path)
    path = tmp_path / "scene.npz"
    arrays = dict(np.load(path))
    arrays["Y_test"] = arrays["Y_test"].copy()
    arrays["Y_test"][5, 2] = 7
    np.savez(path, **arrays)
    refused(plugin, r"field 'Y_test': dataset 'scene': row 5, column 2: 7 is not 0 or 1", "scene.npz")
    arrays["Y_test"][5, 2] = 1
    arrays["X_train"] = arrays["X_train"].copy()
    arrays["X_train"][3, 7] = -np.inf
    np.savez(path, **arrays)
    refused(plugin, r"field 'X_train': .*first at row 3, column 7: -inf", "scene.npz")


# case -> (loader, edit of the tree under root, field named)
def _coco_file_name(name: str):
    return lambda root: edit_json(root / COCO_TRAIN, lambda d: _set(d, "images", 0, "file_name", name))


def _folder_image(name: str):
    def edit(root):
        text = (root / "labels.csv").read_text()
        (root / "labels.csv").write_text(text.replace("a/1.jpg", name))
    return edit


def _symlink_image(relative: str):
    def edit(root):
        (root / relative).unlink()
        (root / relative).symlink_to("/etc/hostname")
    return edit


OUTSIDE = {
    "coco absolute file_name": ("coco", _coco_file_name("/etc/hostname"), "file_name"),
    "coco file_name with ..": ("coco", _coco_file_name("../../../../../../etc/hostname"), "file_name"),
    "coco image symlink": ("coco", _symlink_image("train2014/000000000009.jpg"), "file_name"),
    "folder absolute image": ("folder", _folder_image("/etc/hostname"), "image"),
    "folder image with ..": ("folder", _folder_image("../../../../../../../etc/hostname"), "image"),
    "folder symlinked folder": ("folder", lambda root: (os.rename(root / "a", root / "a-real"),
                                                        (root / "a").symlink_to("/etc")), "image"),
    "voc image symlink": ("voc2007", _symlink_image("VOC2007/JPEGImages/000009.jpg"), "image id"),
    "v6 image symlink": ("openimages-v6", _symlink_image("train/0000000000001000.jpg"), "ImageID"),
    "miil image with ..": ("openimages-v6-miil", lambda root: (root / "data.csv").write_text(
        (root / "data.csv").read_text().replace("000b.jpg", "../../../../../../etc/hostname")), "image"),
    "lvis image symlink": ("lvis", _symlink_image("train2017/000000000010.jpg"), "coco_url"),
}


@pytest.mark.parametrize("case", sorted(OUTSIDE))
def test_image_paths_outside_the_root_are_refused_unless_allowed(tmp_path, case):
    loader, edit, field = OUTSIDE[case]
    plugin = load(loader, tmp_path / "root")
    edit(tmp_path / "root")
    error = refused(plugin, rf"field '{field}': .*resolves to /etc(/hostname)?.*, outside the dataset root "
                            r".*\(allow_outside_root=true accepts it\)", "root")
    assert error.field == field
    allowed = load(loader, tmp_path / "again", allow_outside_root=True, check_images="off")
    edit(tmp_path / "again")
    allowed.load()


def test_a_root_that_is_itself_a_symlink_is_fine(tmp_path):
    load("coco", tmp_path / "real")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    data = DATASETS.get("coco")(root=str(tmp_path / "link"), verify="off", check_images="header").load()
    assert len(data.train) == 3


@pytest.mark.parametrize("name", ["coco", "coco-mini", "lvis", "voc2007", "folder", "openimages-v6", "openimages-v3"])
def test_image_plugins_declare_allow_outside_root(name):
    param = DATASETS.get(name).parameters["allow_outside_root"]
    assert param.default is False and param.value_type is bool


def test_numeric_dataset_parameters_are_bounded():
    for name, cls in DATASETS.classes().items():
        for key, param in cls.parameters.items():
            if param.value_type in (int, float) and param.choices is None:
                assert param.min is not None or param.max is not None, f"{name}.{key} has no bounds"
    with pytest.raises(ParamError, match=r"'max_missing' must be in \[0, 1\]; got 1.5"):
        DATASETS.get("coco")(max_missing=1.5)
    with pytest.raises(ParamError, match=r"'max_missing' must be in \[0, 1\]; got -0.1"):
        DATASETS.get("folder")(max_missing=-0.1)
    with pytest.raises(ParamError, match=r"'min_positives' must be in \[0, inf\)"):
        DATASETS.get("openimages-v6")(min_positives=-1)
