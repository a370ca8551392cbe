"""Synthetic run records for the report tests, and checks that they are what they claim to be.

Records are real ``RunRecord``s inserted into a real ``Store``: their test scores are drawn per run
(seeded), and their stored metrics are ``bench.metrics.evaluate`` of those scores, so the report's
bootstrap must reproduce them exactly. Ids, hashes and timestamps are derived from the inputs, so
every report built from a scenario is byte-identical across processes.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from bench.labels.encoding import canonical_csr
from bench.metrics import evaluate
from bench.plugins.selectors import parse_dataset_selector
from bench.reporting.bootstrap import LabelledTestSet
from bench.store import RunRecord, Store

RECIPE = {"batch_size": 64, "epochs": 5, "head": "linear", "lr": 0.001, "pct_start": 0.2, "weight_decay": 0.0001}


def make_test_set(num_images: int, class_names: list[str], groups: dict[str, list[int]] | None = None,
                  unannotated: float = 0.0, seed: int = 0) -> LabelledTestSet:
    """Test labels in our encoding: ~30% positives, a fraction ``unannotated`` of entries 0."""
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random((num_images, len(class_names))) < 0.3, 1, -1).astype(np.int8)
    labels[rng.random(labels.shape) < unannotated] = 0
    labels[0, :], labels[1, :] = 1, -1  # every class has an annotated positive and negative
    return LabelledTestSet(labels, list(class_names), dict(groups or {}))


def draw_scores(test: LabelledTestSet, quality: float, seed: int) -> np.ndarray:
    """float32 scores of the annotated entries (canonical CSR order): positives shifted by ``quality``,
    rounded to 2 decimals so tied scores occur."""
    csr = canonical_csr(test.labels)
    rng = np.random.default_rng(seed)
    return np.round(quality * (csr.data == 1) + rng.normal(size=csr.data.size), 2).astype(np.float32)


def _typed(value: str):
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def add_run(store: Store, test: LabelledTestSet, method: str, dataset: str, seed: int, quality: float, *,
            plugin: str | None = None, params: dict | None = None, select_on: str = "val",
            val_score: float | None = None, extra: dict | None = None, keep_scores: bool = True,
            recipe: dict | None = None, cost: dict | None = None, index: int = 0, split_seed: int = 0,
            noise_seed: int | None = None, val_labels: str | None = None) -> RunRecord:
    """Insert one finished run of ``method`` on ``dataset`` and return it (as read back from the store).

    ``noise_seed``: draw the score noise from this seed (runs sharing it differ only by ``quality``:
    their paired differences carry almost no test-image noise); default: a seed of the run's own.
    ``val_labels``: recorded as ``config.split.val_labels`` when given (partial | clean)."""
    parsed = parse_dataset_selector(dataset)
    protocol = None
    if parsed.protocol is not None:
        protocol = {"name": parsed.protocol.name, "source_hash": "p0",
                    "params": {k: _typed(v) for k, v in parsed.protocol.params.items()}}
    config = {
        "bench_version": "0.1.0",
        "method": {"name": plugin or method, "version": "1", "source_hash": "m0", "params": dict(params or {})},
        "dataset": {"name": parsed.dataset.name, "version": "1", "source_hash": "d0", "params": {}},
        "protocol": protocol, "split": {"split_seed": split_seed, "val_fraction": 0.2}, "seed": seed, "mode": "linear",
        "recipe": dict(recipe or RECIPE), "select_on": select_on, "evaluator": "partial", "artifacts": {},
    }
    if val_labels is not None:
        config["split"]["val_labels"] = val_labels
    text = json.dumps(config, sort_keys=True)
    digest = hashlib.sha256(f"{method}|{dataset}|{text}".encode()).hexdigest()
    scores = draw_scores(test, quality, int(digest[:8], 16) if noise_seed is None else noise_seed)
    result = evaluate(scores, canonical_csr(test.labels), class_groups=test.class_groups)
    metrics = {k: v for k, v in result.to_dict().items() if k != "per_class_ap"}
    stamp = f"2026-01-01T00:{index // 60:02d}:{index % 60:02d}.000000+00:00"
    record = RunRecord(
        id=digest[:32], config_hash=digest, status="done", method=method, dataset=dataset, config=config,
        manifest_sha256="f" * 64, seed=seed, split_seed=split_seed, evaluator="partial",
        selection={"policy": "test" if select_on == "test" else "val", "epoch": 5, "metric": "map_c",
                   "value": result.map_c - 2.0 if val_score is None else val_score},
        metrics=metrics, per_class_ap=result.to_dict()["per_class_ap"], class_names=list(test.class_names),
        timings={"train_s": 10.0 + seed, "eval_s": 1.0, "wall_s": 12.0 + seed},
        cost=cost or {"device": "cpu", "device_count": 1, "device_hours": 0.25 + 0.01 * seed, "peak_host_mb": 2048.0,
                      "peak_cuda_mb": None, "epochs": 5, "steps": 50},
        env={"python": "3.11", "bench": "0.1.0", "git_commit": "abc123", "git_dirty": False, "device": "cpu"},
        host="host-a", pid=1000 + index, created_at=stamp, finished_at=stamp, heartbeat_at=stamp, error=None,
        extra=dict(extra or {}),
    )
    store.insert_record(record, scores if keep_scores else None)
    return store.get_run(record.id)


class Loader:
    """``test_sets`` option: dataset part of a selector -> LabelledTestSet."""

    def __init__(self, sets: dict[str, LabelledTestSet]):
        self.sets = sets

    def __call__(self, record):
        key = str(parse_dataset_selector(record.dataset).dataset)
        return (key, self.sets[key]) if key in self.sets else None


def paper_scenario(store: Store, keep_scores: bool = True) -> Loader:
    """Runs covering every layout and feature: COCO FPC sweep with published rows, LVIS (Person-AP),
    OpenImages V3 groups, a tuned family, a test-selected run, prior Spearman, gamma- and K sweeps."""
    coco = make_test_set(160, [f"c{i}" for i in range(8)], seed=1)
    lvis = make_test_set(150, ["person", "dog", "cat", "car", "bus", "tree"], unannotated=0.4, seed=2,
                         groups={"rare": [1, 2], "common": [3, 4], "frequent": [0, 5]})
    v3 = make_test_set(140, [f"m{i}" for i in range(10)], unannotated=0.3, seed=3,
                       groups={f"G{g + 1}": [2 * g, 2 * g + 1] for g in range(5)})
    scene = make_test_set(120, ["Beach", "Sunset", "FallFoliage", "Field", "Mountain", "Urban"], seed=4)
    n = iter(range(1000))
    for dataset in ("coco+fpc[n_s=1000]", "coco+fpc[n_s=100]"):
        for method, quality in (("ignore", 1.0), ("negative", 1.3), ("selective-coco-fpc", 1.35)):
            for seed in (0, 1, 2):
                topk = {"5": 0.6 + 0.05 * seed, "20": 0.7, "80": 0.81}
                extra = {"artifacts": {"class_prior": {"spearman": 0.81, "spearman_topk": topk}}} \
                    if method == "selective-coco-fpc" and dataset.endswith("1000]") else None
                add_run(store, coco, method, dataset, seed, quality - (0.3 if "100]" in dataset else 0.0),
                        extra=extra, keep_scores=keep_scores, index=next(n))
    for method, quality in (("ignore", 0.8), ("negative", 1.2), ("asl", 1.25)):
        for seed in (0, 1):
            add_run(store, lvis, method, "lvis", seed, quality, keep_scores=keep_scores, index=next(n))
    for method, quality in (("ll-r", 1.4), ("ignore", 1.0)):
        for seed in (0, 1):
            add_run(store, v3, method, "openimages-v3", seed, quality, keep_scores=keep_scores, index=next(n))
    validation = {1: 52.0, 2: 55.0, 4: 50.0}
    for gamma_neg, quality in ((1, 1.0), (2, 1.3), (4, 1.1)):
        for topk in (1, 5):
            selector = f"p-asl[gamma_neg={gamma_neg},likelihood_topk={topk}]"
            add_run(store, scene, selector, "scene+rpa[p=0.5]", 0, quality + 0.05 * topk, plugin="p-asl",
                    params={"mode": "selective", "gamma_neg": gamma_neg, "likelihood_topk": topk, "variant": "union"},
                    val_score=validation[gamma_neg] + topk, keep_scores=keep_scores, index=next(n))
    for topk in (1, 5):
        add_run(store, scene, f"p-asl[likelihood_topk={topk},variant=likelihood]", "scene+rpa[p=0.5]", 0, 1.0,
                plugin="p-asl",
                params={"mode": "selective", "gamma_neg": 1, "likelihood_topk": topk, "variant": "likelihood"},
                keep_scores=keep_scores, index=next(n))
    add_run(store, scene, "negative", "scene+rpa[p=0.5]", 0, 1.6, select_on="test", keep_scores=keep_scores,
            index=next(n))
    add_run(store, scene, "<script>alert(1)</script>", "scene+rpa[p=0.5]", 0, 0.5, plugin="ignore",
            keep_scores=keep_scores, index=next(n))
    return Loader({"coco": coco, "lvis": lvis, "openimages-v3": v3, "scene": scene})


def test_records_hold_the_metrics_of_their_scores(tmp_path):
    store = Store(tmp_path / "s.db")
    test = make_test_set(50, ["a", "b", "c"], unannotated=0.2)
    record = add_run(store, test, "ignore", "scene+rpa[p=0.5]", 3, 1.0)
    scores = record.test_scores()
    assert scores.dtype == np.float32 and scores.size == canonical_csr(test.labels).nnz
    assert record.metrics["map_c"] == pytest.approx(evaluate(scores, canonical_csr(test.labels)).map_c, abs=1e-12)
    assert record.config["seed"] == 3 and record.config["protocol"]["params"] == {"p": 0.5}


def test_scenario_ids_are_stable(tmp_path):
    ids = []
    for name in ("a.db", "b.db"):
        store = Store(tmp_path / name)
        paper_scenario(store)
        ids.append([r.id for r in store.runs(status="done", latest_done_per_config=True)])
    assert ids[0] == ids[1] and len(set(ids[0])) == len(ids[0]) == 38
