"""A fine-tune on sparse (CSR) labels end to end: a natively partial image dataset whose labels are a
scipy CSR matrix holding only the annotated entries (as OpenImages' are), through ``--mode finetune``
on the CPU with a tiny backbone and 32-px inputs."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from typer.testing import CliRunner

from bench.cli.app import app
from bench.labels.encoding import UNANN
from bench.plugins.registry import DATASETS
from bench.store import Store
from tests.helpers.plugins import temporary_plugins

SPARSE_IMAGES = '''
import numpy as np

from bench import DatasetData, ImageDataset, Split, get_dataset_class, register_dataset
from bench.labels.encoding import UNANN, to_sparse


def _partial(split, seed):
    """The split with about 60% of its entries un-annotated, held as CSR (annotated entries only)."""
    labels = np.array(split.labels)
    labels[np.random.default_rng(seed).random(labels.shape) < 0.6] = UNANN
    return Split(labels=to_sparse(labels), images=split.images, ids=split.ids)


@register_dataset("tmp-sparse-images")
class SparseImages(ImageDataset):
    """coco-mini's images with partial labels held sparse (CSR)."""

    parameters = {}

    def read(self):
        data = get_dataset_class("coco-mini")().read()
        return DatasetData(name="tmp-sparse-images", class_names=data.class_names, train=_partial(data.train, 0),
                           test=_partial(data.test, 1), fully_labelled=False)
'''


def test_finetune_trains_and_evaluates_on_csr_labels(tmp_path, monkeypatch):
    store = tmp_path / "runs.db"
    with temporary_plugins(tmp_path / "plugins", monkeypatch, {"datasets/sparse_images.py": SPARSE_IMAGES}):
        data = DATASETS.get("tmp-sparse-images")().load()
        assert sp.issparse(data.train.labels) and sp.issparse(data.test.labels)
        assert 0.3 < data.test.labels.nnz / np.prod(data.test.labels.shape) < 0.5
        result = CliRunner().invoke(app, [
            "run", "--mode", "finetune", "--backbone", "test_resnet", "--dataset", "tmp-sparse-images",
            "--method", "negative", "--epochs", "1", "--set", "image_size=32", "--workers", "0",
            "--store", str(store), "--quiet"])
        assert result.exit_code == 0, result.output
    record = Store(store).runs()[0]
    assert record.status == "done" and record.config["mode"] == "finetune"
    assert record.cost["steps"] >= 1 and np.isfinite(record.metrics["map_c"])
    scores = record.test_scores()
    assert scores.shape == (data.test.labels.nnz,) and np.isfinite(scores).all()  # one score per annotated entry
    assert not (data.test.labels.data == UNANN).any()
