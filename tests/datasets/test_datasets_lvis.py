"""LVIS plugin on small JSONs written in the exact LVIS v1 layout (categories from ../shared when present)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from bench.io.errors import DataError
from bench.labels.encoding import NEG, POS, UNANN
from bench.labels.protocols import ProtocolError
from bench.plugins.registry import DATASETS
from bench.runs.resolve import prepare, resolve_dataset
from tests.helpers.shared import SHARED, shared_path

SHARED_CATEGORIES = SHARED / "data" / "lvis_v1" / "lvis_v1_categories.json"


def lvis_categories() -> list[dict]:
    """LVIS v1 category entries (real ones when ../shared is present, else three stand-ins)."""
    if SHARED_CATEGORIES.is_file():
        raw = json.loads(SHARED_CATEGORIES.read_text())
    else:
        raw = [{"id": 3, "name": "airplane", "synset": "airplane.n.01", "synonyms": ["airplane"], "def": "",
                "frequency": "f", "train_image_count": 500},
               {"id": 793, "name": "person", "synset": "person.n.01", "synonyms": ["person"], "def": "",
                "frequency": "f", "train_image_count": 60000},
               {"id": 1000, "name": "stand_in", "synset": "x.n.01", "synonyms": ["x"], "def": "",
                "frequency": "r", "train_image_count": 3}]
    return [{"frequency": c["frequency"], "id": c["id"], "synset": c["synset"], "image_count": c["train_image_count"],
             "instance_count": 2 * c["train_image_count"], "synonyms": c["synonyms"], "def": c["def"],
             "name": c["name"]}
            for c in raw]


def image(image_id: int, folder: str, neg: list[int], not_exhaustive: list[int]) -> dict:
    return {"date_captured": "2013-11-14 16:28:13", "neg_category_ids": neg, "id": image_id, "license": 3,
            "height": 480, "width": 640, "flickr_url": f"http://farm1.staticflickr.com/{image_id}.jpg",
            "coco_url": f"http://images.cocodataset.org/{folder}/{image_id:012d}.jpg",
            "not_exhaustive_category_ids": not_exhaustive}


def annotation(ann_id: int, image_id: int, category_id: int) -> dict:
    return {"area": 100.0, "id": ann_id, "segmentation": [[10.0, 10.0, 20.0, 10.0, 20.0, 20.0]],
            "image_id": image_id, "bbox": [10.0, 10.0, 10.0, 10.0], "category_id": category_id}


A, B, C = 3, 793, 1000  # airplane, person, and a rare category present in both category lists


def write_lvis(root: Path, train_images=None, train_anns=None, test_images=None, test_anns=None) -> Path:
    categories = lvis_categories()
    ann_dir = root / "annotations"
    ann_dir.mkdir(parents=True, exist_ok=True)
    train_images = train_images if train_images is not None else [
        image(10, "train2017", [C], [B]), image(5, "val2017", [A, C], []), image(7, "train2017", [A], []),
        image(8, "train2017", [], [])]
    train_anns = train_anns if train_anns is not None else [
        annotation(1, 10, A), annotation(2, 10, A), annotation(3, 10, B), annotation(4, 5, C)]
    test_images = test_images if test_images is not None else [image(20, "val2017", [B], [])]
    test_anns = test_anns if test_anns is not None else [annotation(9, 20, A)]
    for name, images, anns in (("lvis_v1_train.json", train_images, train_anns),
                               ("lvis_v1_val.json", test_images, test_anns)):
        payload = {"info": {"description": "LVIS", "version": "1.0", "year": 2020}, "licenses": [],
                   "images": images, "annotations": anns, "categories": categories}
        (ann_dir / name).write_text(json.dumps(payload))
    return root


def load(root: Path, **params):
    return DATASETS.get("lvis")(**{"root": str(root), "verify": "off", "check_images": "off", **params}).load()


def column(data, category_id: int) -> int:
    ids = sorted(c["id"] for c in lvis_categories())
    return ids.index(category_id)


def test_positives_negatives_unannotated_per_image(tmp_path):
    data = load(write_lvis(tmp_path))
    assert data.train.ids == ["5", "10"] and not data.fully_labelled
    labels = data.train.labels.toarray()
    a, b, c = column(data, A), column(data, B), column(data, C)
    assert labels[1, a] == POS and labels[1, b] == POS and labels[1, c] == NEG
    assert labels[0, c] == POS and labels[0, a] == NEG  # C both annotated and listed negative: positive wins
    assert np.count_nonzero(labels) == 5 and np.count_nonzero(labels == UNANN) == labels.size - 5
    assert data.meta["conflicting_pairs"]["train"] == 1
    assert data.train.images == [str(tmp_path / "val2017" / "000000000005.jpg"),
                                 str(tmp_path / "train2017" / "000000000010.jpg")]
    assert data.test.ids == ["20"] and data.test.labels.toarray()[0, b] == NEG


def test_keep_labelled_adds_images_with_only_negatives(tmp_path):
    data = load(write_lvis(tmp_path), keep="labelled")
    assert data.train.ids == ["5", "7", "10"]
    assert data.train.labels.toarray()[1, column(data, A)] == NEG


def test_not_exhaustive_recorded_and_optionally_unannotated(tmp_path):
    root = write_lvis(tmp_path)
    data = load(root)
    b = column(data, B)
    assert data.meta["not_exhaustive"]["train"].toarray()[1].nonzero()[0].tolist() == [b]
    relaxed = load(root, not_exhaustive_as_unannotated=True)
    assert relaxed.train.labels.toarray()[1, b] == UNANN
    assert relaxed.train.labels.nnz == data.train.labels.nnz - 1


def test_class_groups_person_and_class_list_match_shared_categories(tmp_path):
    rows = list(csv.DictReader(shared_path("data", "lvis_v1", "lvis_v1_categories.csv").open()))
    data = load(write_lvis(tmp_path), verify="classes")
    assert data.class_names == [r["name"] for r in rows]
    for group, letter in (("rare", "r"), ("common", "c"), ("frequent", "f")):
        assert data.class_groups[group] == [int(r["index"]) for r in rows if r["frequency"] == letter]
    assert [len(data.class_groups[g]) for g in ("rare", "common", "frequent")] == [337, 461, 405]
    assert data.meta["person_index"] == 792 and data.class_names[792] == "person"
    with pytest.raises(DataError, match="train split has 4 images, LVIS v1 has 100,170"):
        load(write_lvis(tmp_path), verify="full")


def test_native_labels_build_a_manifest_and_simulation_protocols_are_refused(tmp_path):
    root = write_lvis(tmp_path)
    prepared = prepare(resolve_dataset(f"lvis[root={root},verify=off,check_images=off,keep=labelled]"),
                       val_fraction=0.34)
    assert prepared.manifest.protocol is None and prepared.manifest.val_index.size == 1
    assert prepared.manifest.stats("all").spearman is None
    with pytest.raises(ProtocolError, match="natively partial"):
        prepare(resolve_dataset(f"lvis[root={root},verify=off,check_images=off]+rpa[p=0.5]"))


def test_bad_inputs_name_file_and_field(tmp_path):
    root = write_lvis(tmp_path, train_images=[image(10, "train2017", [424242], [])], train_anns=[annotation(1, 10, A)])
    with pytest.raises(DataError, match=r"lvis_v1_train\.json: field 'neg_category_ids': category 424242"):
        load(root)
    bare = image(10, "train2017", [], [])
    del bare["coco_url"]
    with pytest.raises(DataError, match="field 'coco_url'"):
        load(write_lvis(tmp_path, train_images=[bare], train_anns=[annotation(1, 10, A)]))
    del bare["neg_category_ids"]
    with pytest.raises(DataError, match="field 'neg_category_ids'"):
        load(write_lvis(tmp_path, train_images=[bare], train_anns=[annotation(1, 10, A)]))
    good = write_lvis(tmp_path / "good")
    (good / "annotations" / "lvis_v1_val.json").write_text('{"images": [\n}')
    with pytest.raises(DataError, match=r"lvis_v1_val\.json:2: malformed JSON"):
        load(good)
