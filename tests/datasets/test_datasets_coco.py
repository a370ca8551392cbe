"""COCO plugin on the real instances JSON of ../shared/data/coco2017_first128.

The training split is the real JSON; the test split is a small JSON over the two images of the folder
that the training JSON leaves without annotations (250 and 508), so the splits share no image."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from bench.io.errors import DataError
from bench.labels.encoding import NEG, POS, label_counts
from bench.plugins.registry import DATASETS
from bench.runs.resolve import prepare, resolve_dataset
from tests.helpers.shared import shared_path

JSON_NAME = "instances_train2017_first128.json"
TEST_NAME = "instances_test_250_508.json"
TEST_IDS = (250, 508)  # images of the folder without any annotation in the training JSON


def write_test_json(raw: dict, folder) -> None:
    """A test JSON over the images 250 and 508 (not rows of the training split), one object each."""
    images = [dict(i) for i in raw["images"] if i["id"] in TEST_IDS]
    anns = [{"id": 10**9 + k, "image_id": image["id"], "category_id": raw["categories"][k]["id"], "iscrowd": 0,
             "area": 1.0, "bbox": [0, 0, 1, 1], "segmentation": []} for k, image in enumerate(images)]
    (folder / TEST_NAME).write_text(json.dumps({"images": images, "annotations": anns,
                                                "categories": raw["categories"]}))


def coco_params(root, **extra):
    base = dict(root=str(root), year="2017", train_json=JSON_NAME, test_json=TEST_NAME,
                train_images="images/train2017", test_images="images/train2017", verify="classes")
    return {**base, **extra}


@pytest.fixture
def first128(tmp_path):
    """The shared folder as root, with the annotation folder (the real training JSON and the test
    JSON) in tmp_path: ``annotations`` is an absolute path, which Path joining keeps."""
    shared = shared_path("data", "coco2017_first128")
    ann = tmp_path / "coco-annotations"
    ann.mkdir()
    shutil.copy(shared / "annotations" / JSON_NAME, ann / JSON_NAME)
    write_test_json(json.loads((shared / "annotations" / JSON_NAME).read_text()), ann)
    return shared, ann


def shared_params(first128, **extra):
    shared, ann = first128
    return coco_params(shared, annotations=str(ann), **extra)


def test_loader_reproduces_the_published_multihot_matrix(first128):
    data = DATASETS.get("coco")(**shared_params(first128, check_images="header")).load()
    reference = np.load(first128[0] / "labels_multihot.npz")
    ref_ids, ref_labels = reference["train2017_image_ids"], reference["train2017_labels"]
    annotated = ref_labels.sum(axis=1) > 0  # the loader keeps images with >= 1 annotation (126 of 128)
    assert [int(i) for i in data.train.ids] == ref_ids[annotated].tolist()
    assert np.array_equal(data.train.labels, np.where(ref_labels[annotated] == 1, POS, NEG))
    assert data.class_names == reference["class_names"].tolist()
    assert set(ref_ids[~annotated].tolist()) == {250, 508}
    assert data.train.images[0].endswith("images/train2017/000000000009.jpg")
    assert data.meta["class_list_sha256"] == "d7654b26101572841ed1cd80aa03aa60e35f1b8acb4aea6906c4066886f16e07"
    assert data.fully_labelled and data.val_index is None


def test_crowd_annotations_count_as_positives(first128):
    raw = json.loads((first128[0] / "annotations" / JSON_NAME).read_text())
    crowd = [a for a in raw["annotations"] if a["iscrowd"]]
    assert len(crowd) == 10
    data = DATASETS.get("coco")(**shared_params(first128, check_images="off")).load()
    row = {int(i): r for r, i in enumerate(data.train.ids)}
    column = {c["id"]: j for j, c in enumerate(sorted(raw["categories"], key=lambda c: c["id"]))}
    for ann in crowd:
        assert data.train.labels[row[ann["image_id"]], column[ann["category_id"]]] == POS


def test_known_class_list_of_shared_categories(first128):
    categories = json.loads(shared_path("data", "coco2014_labels", "categories.json").read_text())
    names = [c["name"] for c in sorted(categories, key=lambda c: c["id"])]
    data = DATASETS.get("coco")(**shared_params(first128, check_images="off")).load()
    assert data.class_names == names


def test_cole_order_sorts_ids_as_strings_and_sets_their_val_split(first128):
    plain = DATASETS.get("coco")(**shared_params(first128, check_images="off")).load()
    cole = DATASETS.get("coco")(**shared_params(first128, check_images="off", order="cole")).load()
    assert cole.train.ids == sorted(plain.train.ids)
    assert cole.train.ids != plain.train.ids
    order = [plain.train.ids.index(i) for i in cole.train.ids]
    assert np.array_equal(cole.train.labels, plain.train.labels[order])
    assert cole.val_index.size == round(0.2 * 126)
    manifest = prepare(resolve_dataset("coco[" + ",".join(f"{k}={v}" for k, v in shared_params(
        first128, check_images="off", order="cole").items()) + "]+single-positive[draw=cole]"))
    assert np.array_equal(manifest.manifest.val_index, cole.val_index)
    assert manifest.manifest.val_carve == "dataset"


def test_protocols_apply_to_the_loaded_matrix(first128):
    selector = "coco[" + ",".join(f"{k}={v}" for k, v in shared_params(first128, check_images="off").items()) + "]"
    prepared = prepare(resolve_dataset(selector + "+fpc[n_s=5]"), split_seed=3)
    counts = label_counts(prepared.manifest.labels)
    truth = label_counts(prepared.data.train.labels)
    assert np.array_equal(counts.positives, np.minimum(5, truth.positives))
    assert np.array_equal(counts.negatives, np.minimum(5, truth.negatives))


def test_default_verify_checks_split_sizes_of_the_release(first128):
    with pytest.raises(DataError, match="train split has 126 images, COCO 2014 has 82,081"):
        DATASETS.get("coco")(**shared_params(first128, year="2014", verify="full", check_images="off")).load()


def _copy_tree(first128, tmp_path):
    shared = first128[0]
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    shutil.copytree(shared / "images" / "train2017", root / "images" / "train2017")
    raw = json.loads((shared / "annotations" / JSON_NAME).read_text())
    write_test_json(raw, root / "annotations")
    return root, raw


def test_missing_images_are_listed_and_refused(first128, tmp_path):
    root, raw = _copy_tree(first128, tmp_path)
    (root / "annotations" / JSON_NAME).write_text(json.dumps(raw))
    gone = sorted((root / "images" / "train2017").glob("*.jpg"))[:3]
    for path in gone:
        path.unlink()
    params = coco_params(root, missing_list_dir=str(tmp_path / "lists"))
    with pytest.raises(DataError, match=r"3 of 126 images missing.*coco-train-[0-9-]+\.txt"):
        DATASETS.get("coco")(**params).load()
    (listing,) = (tmp_path / "lists").glob("coco-train-*.txt")
    listed = listing.read_text().splitlines()
    assert sorted(listed) == sorted(str(p) for p in gone if int(p.stem) not in (250, 508))
    data = DATASETS.get("coco")(**params, max_missing=0.05).load()
    assert len(data.train) == 123 and data.meta["missing_images"]["train"]["count"] == 3


def test_malformed_json_and_bad_fields_name_file_line_field(first128, tmp_path):
    root, raw = _copy_tree(first128, tmp_path)
    path = root / "annotations" / JSON_NAME
    path.write_text('{"images": [\n{"id": 1},\n]}')
    with pytest.raises(DataError, match=rf"{JSON_NAME}:3: malformed JSON"):
        DATASETS.get("coco")(**coco_params(root, check_images="off")).load()
    raw["annotations"][0]["category_id"] = 999
    path.write_text(json.dumps(raw))
    with pytest.raises(DataError, match="field 'category_id': category 999"):
        DATASETS.get("coco")(**coco_params(root, check_images="off")).load()
    del raw["annotations"][0]["image_id"]
    path.write_text(json.dumps(raw))
    with pytest.raises(DataError, match="field 'image_id'"):
        DATASETS.get("coco")(**coco_params(root, check_images="off")).load()


@pytest.mark.parametrize("split", ["train", "test"])
def test_our_coco_reader_gives_pycocotools_labels_on_valid_files(split):
    """The plugin reads the JSON itself to type-check it and refuse duplicate ids (pycocotools
    silently overwrites a repeated image id); on a valid file it must give pycocotools' labels."""
    from pycocotools.coco import COCO

    from bench.core.resources import shipped

    path = shipped("datasets") / "data" / "coco_mini" / "annotations" / f"instances_{split}.json"
    coco = COCO(str(path))
    cat_ids = sorted(coco.getCatIds())
    image_ids = sorted(coco.imgToAnns)
    expected = np.full((len(image_ids), len(cat_ids)), NEG, dtype=np.int8)
    for row, image_id in enumerate(image_ids):
        for ann in coco.imgToAnns[image_id]:
            expected[row, cat_ids.index(ann["category_id"])] = POS
    data = DATASETS.get("coco-mini")().load()
    labels = data.train.labels if split == "train" else data.test.labels
    assert [int(i) for i in (data.train.ids if split == "train" else data.test.ids)] == image_ids
    assert np.array_equal(np.asarray(labels), expected)
    assert data.class_names == [coco.cats[c]["name"] for c in cat_ids]
