"""The ``class_prior`` artifact: produced by a temporary ignore-mode run, cached with provenance,
delivered to the method, or read from the official CSV."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.plugins.method import LabelStore
from bench.plugins.registry import METHODS
from bench.runs.artifacts import ArtifactError
from bench.runs.config import RunConfig, resolve_config
from bench.runs.execute import execute
from bench.runs.prior import posthoc_prior, write_prior_csv
from bench.runs.recipe import Recipe
from bench.runs.resolve import get_dataset
from bench.store import Store
from bench.training.heads import build_model
from bench.training.inference import logits_of
from bench.training.tensors import label_tensor
from bench.training.trainer import train
from tests.helpers.plugins import temporary_plugins

DATASET = "scene+rpa[p=0.5]"
RECIPE = Recipe(epochs=3, batch_size=128, lr=3e-3)
SPY = """
    import torch
    from bench import Method, Param, PriorSpec, register_method

    @register_method("tmp-prior-spy")
    class PriorSpy(Method):
        requires = {"class_prior": PriorSpec(method="ignore")}
        parameters = {"prior_estimator": Param("posthoc")}
        priors = []

        def loss(self, logits, labels, state=None):
            PriorSpy.priors.append(state.artifacts["class_prior"].clone())
            return torch.nn.functional.softplus(-logits * labels.float()).sum()
"""


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "runs.db")


def _independent_posthoc_prior() -> np.ndarray:
    """CSL eq. 10 computed here from the trainer directly: an ignore model on the same rows."""
    prepared = get_dataset(DATASET)
    x = prepared.features("train")
    result = train(lambda: build_model("linear", num_classes=6, features=x), METHODS.get("ignore")(),
                   features=torch.from_numpy(x), label_store=LabelStore(label_tensor(prepared.labels("train"))),
                   recipe=RECIPE, seed=0, select_best=False, progress=False)
    return posthoc_prior(logits_of(result.model, torch.from_numpy(x)))


def test_prior_is_produced_cached_and_delivered(tmp_path, monkeypatch, store):
    with temporary_plugins(tmp_path / "plugins", monkeypatch, {"methods/prior_spy.py": SPY}):
        spy = METHODS.get("tmp-prior-spy")
        spy.priors.clear()
        first = execute(RunConfig("tmp-prior-spy", DATASET, recipe=RECIPE), store, progress=False).record
        delivered = spy.priors[0]
    provenance = first.extra["artifacts"]["class_prior"]
    assert provenance["source"] == "run" and provenance["cached"] is False and provenance["estimator"] == "posthoc"
    assert provenance["manifest_sha256"] == first.manifest_sha256 and provenance["seed"] == 0
    assert -1.0 <= provenance["spearman"] <= 1.0
    assert list(provenance["spearman_topk"]) == ["6"]  # scene: 6 classes, so only k = C
    assert provenance["spearman_topk"]["6"] == pytest.approx(provenance["spearman"])
    payload, meta = store.get_artifact("class_prior", provenance["key"])
    stored = np.frombuffer(payload, dtype="<f8").copy()
    assert np.allclose(stored, _independent_posthoc_prior(), rtol=0, atol=1e-6)  # float32 sums: thread count
    assert torch.allclose(delivered, torch.as_tensor(stored, dtype=torch.float32))
    assert all(torch.equal(p, delivered) for p in spy.priors)

    second = execute(RunConfig("selective[likelihood_topk=3]", DATASET, recipe=RECIPE), store, progress=False).record
    reused = second.extra["artifacts"]["class_prior"]
    assert reused["cached"] is True and reused["key"] == provenance["key"]
    assert reused["spearman"] == pytest.approx(provenance["spearman"])


def test_running_estimator_is_its_own_artifact(store):
    posthoc = execute(RunConfig("selective", DATASET, recipe=RECIPE), store, progress=False).record
    running = execute(RunConfig("selective[prior_estimator=running]", DATASET, recipe=RECIPE), store,
                      progress=False).record
    keys = [r.extra["artifacts"]["class_prior"]["key"] for r in (posthoc, running)]
    assert keys[0] != keys[1]
    values = [np.frombuffer(store.get_artifact("class_prior", k)[0], dtype="<f8") for k in keys]
    assert not np.allclose(values[0], values[1])


def test_prior_from_the_official_csv(tmp_path, store):
    names = get_dataset(DATASET).manifest.class_names
    path = tmp_path / "train_avg_preds.csv"
    write_prior_csv(path, names, [0.9, 0.1, 0.2, 0.3, 0.4, 0.5])
    config = RunConfig("selective", DATASET, recipe=RECIPE, prior_path=str(path))
    record = execute(config, store, progress=False).record
    provenance = record.extra["artifacts"]["class_prior"]
    assert provenance["source"] == "file" and provenance["path"] == str(path)
    assert record.config["artifacts"]["class_prior"]["sha256"] == provenance["sha256"]
    produced = resolve_config(RunConfig("selective", DATASET, recipe=RECIPE)).config_hash
    assert record.config_hash != produced
    write_prior_csv(path, names, [0.8, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert resolve_config(config).config_hash != record.config_hash


def test_prior_path_needs_a_method_that_uses_it(tmp_path, store):
    path = tmp_path / "prior.csv"
    path.write_text("Classes,avg_pred\n")
    with pytest.raises(ArtifactError, match="uses no class prior"):
        execute(RunConfig("negative", DATASET, prior_path=str(path)), store, progress=False)
    with pytest.raises(ArtifactError, match="prior_path .*missing.csv"):
        execute(RunConfig("selective", DATASET, prior_path=str(tmp_path / "missing.csv")), store, progress=False)
    assert store.runs() == []


def test_top_k_spearman_curve_follows_csl_figure_7():
    from bench.runs.prior import spearman_by_top_k

    truth = np.arange(80, 0, -1, dtype=float)
    prior = truth.copy()
    prior[40:] = prior[40:][::-1]  # the 40 rarest classes in reverse order
    curve = spearman_by_top_k(prior, truth)
    assert list(curve) == [str(k) for k in range(10, 81, 10)]
    assert curve["10"] == pytest.approx(1.0) and curve["40"] == pytest.approx(1.0)
    assert curve["80"] < curve["50"] < 1.0


def test_a_prior_is_declared_with_the_method_that_estimates_it():
    from bench import Method, PriorSpec

    with pytest.raises(TypeError):
        PriorSpec()  # the engine has no default method: the plugin names it
    assert PriorSpec(method="ignore").estimator == "posthoc"
    with pytest.raises(TypeError, match="requires must map artifact names to their specs"):
        type("NamesOnly", (Method,), {"requires": ("class_prior",)})
