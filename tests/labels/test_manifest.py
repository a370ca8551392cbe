"""The manifest: protocol on the whole training split, seeded validation carve, sha256, stats, save/load."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import spearmanr

from bench.labels.encoding import NEG, POS, UNANN, from_01, label_counts, to_dense, to_sparse
from bench.labels.manifest import Manifest, ManifestError, build_manifest
from bench.labels.protocols import ProtocolError, apply_protocol
from bench.plugins.dataset import DatasetData, Split
from tests.helpers.shared import shared_path

CLASSES = [f"c{i}" for i in range(8)]


def make_data(sparse: bool = False, fully_labelled: bool = True, val_index=None, num_rows: int = 250) -> DatasetData:
    rng = np.random.default_rng(4)
    train = from_01(rng.random((num_rows, 8)) < np.linspace(0.05, 0.5, 8))
    if not fully_labelled:
        train[rng.random(train.shape) < 0.5] = UNANN
    labels = to_sparse(train) if sparse else train
    test = Split(from_01(rng.random((20, 8)) < 0.3))
    return DatasetData("toy", CLASSES, Split(labels, ids=[str(i) for i in range(num_rows)]), test,
                       fully_labelled=fully_labelled, val_index=val_index)


def test_protocol_applied_to_all_rows_then_seeded_carve():
    data = make_data()
    m = build_manifest(data, "rpa", {"p": "0.5"}, split_seed=3)
    assert m.protocol_params == {"p": 0.5} and isinstance(m.protocol_params["p"], float)
    assert np.array_equal(m.labels, apply_protocol("rpa", {"p": 0.5}, data.train.labels, 3))
    assert m.val_index.size == 50 and m.val_carve == "seeded" and m.val_fraction == 0.2
    for index in (m.train_index, m.val_index):
        assert index.dtype == np.int64 and np.all(np.diff(index) > 0)
    assert np.array_equal(np.union1d(m.train_index, m.val_index), np.arange(250))
    assert np.intersect1d(m.train_index, m.val_index).size == 0


def test_carve_depends_on_split_seed_and_fraction():
    data = make_data()
    a, b = build_manifest(data, None, {}, 1), build_manifest(data, None, {}, 2)
    assert not np.array_equal(a.val_index, b.val_index)
    assert build_manifest(data, None, {}, 1, val_fraction=0.1).val_index.size == 25
    assert build_manifest(data, None, {}, 1, val_fraction=0.0).val_index.size == 0
    with pytest.raises(ManifestError, match="val_fraction must be in \\[0, 1\\)"):
        build_manifest(data, None, {}, 1, val_fraction=1.0)


def test_dataset_reference_val_index_is_used():
    data = make_data(val_index=np.array([7, 3, 100]))
    m = build_manifest(data, "fpc", {"n_s": 5}, 0)
    assert list(m.val_index) == [3, 7, 100] and m.val_carve == "dataset" and m.val_fraction == 3 / 250
    with pytest.raises(ManifestError, match="val_index must be distinct row indices in 0..249"):
        build_manifest(make_data(val_index=np.array([1, 1])), None, {}, 0)


def test_native_labels_and_their_rules():
    full = build_manifest(make_data(), None, {}, 0)
    assert np.array_equal(full.labels, make_data().train.labels) and full.stats().spearman == pytest.approx(1.0)
    partial = make_data(fully_labelled=False)
    m = build_manifest(partial, None, {}, 0)
    assert np.array_equal(m.labels, partial.train.labels) and m.stats().spearman is None
    with pytest.raises(ProtocolError, match="natively partial; protocol 'rpa' needs fully labelled"):
        build_manifest(partial, "rpa", {"p": 0.5}, 0)
    with pytest.raises(ManifestError, match="take no parameters"):
        build_manifest(make_data(), None, {"p": 0.5}, 0)
    with pytest.raises(ManifestError, match="split_seed must be an int"):
        build_manifest(make_data(), None, {}, "0")


def test_stats_against_hand_counts():
    data = make_data()
    m = build_manifest(data, "fpc", {"n_s": 10}, 5)
    train_part = to_dense(m.labels)[m.train_index]
    stats = m.stats()
    assert np.array_equal(stats.positives, (train_part == POS).sum(0))
    assert np.array_equal(stats.negatives, (train_part == NEG).sum(0))
    assert np.array_equal(stats.unannotated, (train_part == UNANN).sum(0))
    truth = (to_dense(data.train.labels)[m.train_index] == POS).sum(0)
    assert np.array_equal(stats.true_positives, truth) and np.array_equal(m.true_positives, truth)
    assert stats.spearman == pytest.approx(spearmanr(stats.positives, truth).statistic)
    everything = m.stats("all")
    assert np.array_equal(everything.positives, np.minimum(10, (to_dense(data.train.labels) == POS).sum(0)))
    assert np.array_equal(m.stats("val").positives + stats.positives, everything.positives)
    assert np.isnan(everything.spearman)  # every class keeps exactly 10 positives: constant counts
    with pytest.raises(ManifestError, match="stats part must be one of train, val, all"):
        m.stats("test")


@pytest.mark.parametrize("protocol, params", [("rpa", {"p": 0.4}), ("fpc", {"n_s": 7}), ("single-positive", {}),
                                              (None, {})])
def test_sparse_and_dense_datasets_give_the_same_manifest(protocol, params):
    dense, sparse = (build_manifest(make_data(), protocol, params, 9),
                     build_manifest(make_data(sparse=True), protocol, params, 9))
    assert sp.issparse(sparse.labels) and isinstance(dense.labels, np.ndarray)
    assert sparse.sha256 == dense.sha256
    assert np.array_equal(sparse.labels.toarray(), dense.labels)


def test_sha256_is_stable_and_pinned():
    """Pinned digest: the same bits in every process and on every machine (this test's process is
    not the one that produced the constant); a change in the RNG stream, seed derivation, carve or
    hashing shows up here."""
    m = build_manifest(make_data(), "rpa", {"p": 0.5}, 3)
    assert m.sha256 == build_manifest(make_data(), "rpa", {"p": 0.5}, 3).sha256 == m.compute_sha256()
    assert m.sha256 == PINNED_SHA256


PINNED_SHA256 = "061662cb462344fa3f76a2b42732d23adb7f66f02d7ae4bef24cc29b44f7d75e"


@pytest.mark.parametrize("change", [
    dict(split_seed=4), dict(protocol_params={"p": 0.6}), dict(dataset_label="toy-2"), dict(val_fraction=0.25),
    dict(protocol="known", protocol_params={"q": 0.5}),
])
def test_sha256_is_sensitive_to_every_input(change):
    base = dict(protocol="rpa", protocol_params={"p": 0.5}, split_seed=3)
    assert build_manifest(make_data(), **{**base, **change}).sha256 != build_manifest(make_data(), **base).sha256


def test_sha256_is_sensitive_to_one_label_and_to_the_class_list():
    data = make_data()
    reference = build_manifest(data, None, {}, 0).sha256
    data.train.labels[17, 3] = -data.train.labels[17, 3]
    assert build_manifest(data, None, {}, 0).sha256 != reference
    data.train.labels[17, 3] = -data.train.labels[17, 3]
    data.class_names = CLASSES[:-1] + ["other"]
    assert build_manifest(data, None, {}, 0).sha256 != reference


@pytest.mark.parametrize("sparse", [False, True])
def test_save_and_load_round_trip(tmp_path, sparse):
    m = build_manifest(make_data(sparse=sparse), "fpc", {"n_s": 7}, 12, dataset_label="toy[v=1]")
    path = tmp_path / "manifest.npz"
    m.save(path)
    loaded = Manifest.load(path)
    assert loaded == m and loaded.sha256 == m.sha256 and loaded.dataset == "toy[v=1]"
    assert sp.issparse(loaded.labels) == sparse and np.array_equal(to_dense(loaded.labels), to_dense(m.labels))
    assert np.array_equal(loaded.train_index, m.train_index) and loaded.protocol_params == {"n_s": 7}
    assert np.array_equal(loaded.true_positives, m.true_positives)
    assert np.array_equal(loaded.true_positives_val, m.true_positives_val)


def test_load_rejects_altered_and_foreign_files(tmp_path):
    path = tmp_path / "manifest.npz"
    build_manifest(make_data(), "rpa", {"p": 0.5}, 1).save(path)
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["labels_data"][0] = -arrays["labels_data"][0]
    np.savez(path, **arrays)
    with pytest.raises(ManifestError, match="sha256 mismatch"):
        Manifest.load(path)
    (tmp_path / "junk.npz").write_bytes(b"not a manifest")
    with pytest.raises(ManifestError, match="junk.npz: not a readable bench manifest"):
        Manifest.load(tmp_path / "junk.npz")


def coco_data() -> DatasetData:
    coco = np.load(shared_path("data", "coco2014_labels", "coco2014_labels.npz"))
    train = Split(from_01(coco["train_labels"]), ids=[str(i) for i in coco["train_image_ids"]])
    return DatasetData("coco2014", [str(c) for c in coco["class_names"]], train, Split(from_01(coco["val_labels"])))


def test_coco_rpa_keeps_the_class_distribution():
    m = build_manifest(coco_data(), "rpa", {"p": 0.5}, 0)
    rho = m.stats().spearman
    print(f"COCO-2014 rpa[p=0.5] Spearman (training part) = {rho:.4f}")
    assert rho >= 0.99


def test_coco_fpc_does_not():
    m = build_manifest(coco_data(), "fpc", {"n_s": 1000}, 0)
    rho_all, rho_train = m.stats("all").spearman, m.stats().spearman
    print(f"COCO-2014 fpc[n_s=1000] Spearman all rows = {rho_all:.4f}, training part = {rho_train:.4f}")
    assert 0.3 <= rho_all <= 0.7
    assert rho_train < 0.7
    assert np.array_equal(m.stats("all").positives, np.minimum(1000, label_counts(coco_data().train.labels).positives))
