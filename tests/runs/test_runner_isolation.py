"""No method ever sees test labels: a spy method records every label tensor the engine hands it,
on a dataset whose test labels are poisoned (the negation of its training labels, on the same
features), while the run still evaluates on those test labels afterwards."""
from __future__ import annotations

import numpy as np
import torch

from bench.labels.encoding import to_dense
from bench.plugins.registry import METHODS
from bench.runs.config import RunConfig
from bench.runs.execute import execute
from bench.runs.recipe import Recipe
from bench.runs.resolve import get_dataset
from bench.store import Store
from tests.helpers.plugins import temporary_plugins

PLUGINS = {
    "datasets/poisoned.py": """
        import numpy as np
        from bench import DatasetData, DatasetPlugin, Split, register_dataset

        @register_dataset("tmp-poisoned")
        class Poisoned(DatasetPlugin):
            modality = "features"

            def load(self):
                rng = np.random.default_rng(0)
                x = rng.normal(size=(150, 5)).astype(np.float32)
                train = np.where(x[:, :4] > 0, 1, -1).astype(np.int8)
                return DatasetData("tmp-poisoned", ["a", "b", "c", "d"], Split(train, x), Split(-train, x.copy()))
    """,
    "methods/spy.py": """
        import torch
        from bench import Method, register_method

        @register_method("tmp-spy")
        class Spy(Method):
            seen = []

            def loss(self, logits, labels, state=None):
                Spy.seen.append((labels.clone(), state.indices.clone(), state.label_store.labels.clone(),
                                 dict(state.artifacts)))
                known = labels != 0
                return torch.nn.functional.softplus(-logits[known] * labels[known].float()).sum()
    """,
}


def test_no_method_sees_test_labels(tmp_path, monkeypatch):
    with temporary_plugins(tmp_path / "plugins", monkeypatch, PLUGINS):
        spy = METHODS.get("tmp-spy")
        spy.seen.clear()
        selector = "tmp-poisoned+rpa[p=0.3]"
        record = execute(RunConfig("tmp-spy", selector, recipe=Recipe(epochs=20, batch_size=32, lr=0.05)),
                         Store(tmp_path / "runs.db"), progress=False).record
        prepared = get_dataset(selector)
        train_partial = torch.from_numpy(to_dense(prepared.labels("train")))
        test_labels = torch.from_numpy(to_dense(prepared.data.test.labels))
        seen = list(spy.seen)
    assert seen, "the spy saw no batch"
    for labels, rows, store_labels, artifacts in seen:
        assert torch.equal(labels, train_partial[rows])
        assert torch.equal(store_labels, train_partial)  # the label store holds the training rows only
        assert artifacts == {}
        annotated = (labels != 0).any(dim=1)
        poisoned = test_labels[prepared.rows("train")][rows]  # what a leak of test labels would hand over
        assert not (labels[annotated] == poisoned[annotated]).all(dim=1).any()
    assert sum(len(rows) for _, rows, *_ in seen) == 20 * len(prepared.rows("train"))
    # the poisoned test labels are still what the run is scored on: mAP far below chance
    assert record.metrics["map_c"] < 40.0, record.metrics
    assert np.isfinite(record.test_scores()).all()
