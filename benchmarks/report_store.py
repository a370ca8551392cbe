"""A results store of scene-sized runs, as a sweep leaves it, built directly through the store API.

10 dataset selectors (``scene`` under rpa at five p and fpc at five N_s) x 10 method selectors x 5
seeds = 500 done runs. Each run's test scores are float32, one per annotated entry of the real
``scene`` test split (1,196 images x 6 classes, loaded through the dataset plugin exactly as
``bench report`` loads it): a per-(method, dataset) quality times the label plus seeded normal noise
(continuous values, so nearly every entry is its own tie group, as with a trained head). Each
record's metrics are ``bench.metrics.evaluate`` of its scores, so the report's bootstrap reproduces
them and runs the full per-run work. Ids are derived from the inputs (deterministic).

Run as a script: ``python benchmarks/report_store.py STORE.db`` builds the store at that path.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import numpy as np

from bench.labels.encoding import canonical_csr
from bench.metrics import evaluate
from bench.runs.resolve import resolve_dataset
from bench.store import RunRecord, Store

DATASETS = tuple(f"scene+rpa[p={p}]" for p in (0.1, 0.3, 0.5, 0.7, 0.9)) + tuple(
    f"scene+fpc[n_s={n}]" for n in (50, 100, 200, 400, 800))
METHODS = ("negative", "ignore", "selective", "ll-r", "ll-ct", "asl", "p-asl[gamma_neg=1]", "p-asl[gamma_neg=2]",
           "p-asl[gamma_neg=4]", "wan")
SEEDS = (0, 1, 2, 3, 4)
RECIPE = {"batch_size": 64, "epochs": 30, "head": "linear", "lr": 0.001, "pct_start": 0.2, "weight_decay": 0.0001}


def done_record(digest: str, method: str, dataset: str, config: dict, seed: int, result: Any, class_names: list[str],
                stamp: str, *, epoch: int, train_s: float, device_hours: float, peak_host_mb: float) -> RunRecord:
    """A done run with id and hash from ``digest`` and metrics from the evaluation ``result``."""
    return RunRecord(
        id=digest[:32], config_hash=digest, status="done", method=method, dataset=dataset, config=config,
        manifest_sha256="f" * 64, seed=seed, split_seed=0, evaluator="partial",
        selection={"policy": "val", "epoch": epoch, "metric": "map_c", "value": result.map_c},
        metrics={k: v for k, v in result.to_dict().items() if k != "per_class_ap"},
        per_class_ap=result.to_dict()["per_class_ap"], class_names=class_names,
        timings={"train_s": train_s, "eval_s": 0.1 * train_s, "wall_s": 1.2 * train_s},
        cost={"device": "cpu", "device_count": 1, "device_hours": device_hours, "peak_host_mb": peak_host_mb},
        env={"python": "3.11", "bench": "0.1.0", "device": "cpu"}, host="bench-host", pid=1,
        created_at=stamp, finished_at=stamp, heartbeat_at=stamp, error=None, extra={})


def build_store(path: Path) -> Store:
    """The 500-run store at ``path`` (see the module docstring)."""
    store = Store(path)
    data = resolve_dataset("scene").plugin.load()
    csr = canonical_csr(data.test.labels)
    positive = (csr.data == 1).astype(np.float64)
    index = 0
    for dataset in DATASETS:
        protocol, _, rest = dataset.partition("+")[2].partition("[")
        name, _, value = rest.rstrip("]").partition("=")
        for m, method in enumerate(METHODS):
            quality = 0.6 + 0.08 * m + 0.05 * DATASETS.index(dataset)
            for seed in SEEDS:
                config = {
                    "bench_version": "0.1.0",
                    "method": {"name": method.split("[")[0], "version": "1", "source_hash": "m", "params": {}},
                    "dataset": {"name": "scene", "version": "1", "source_hash": "d", "params": {}},
                    "protocol": {"name": protocol, "source_hash": "p", "params": {name: float(value)}},
                    "split": {"split_seed": 0, "val_fraction": 0.2}, "seed": seed, "mode": "linear",
                    "recipe": RECIPE, "select_on": "val", "evaluator": "partial", "artifacts": {},
                }
                digest = hashlib.sha256(f"{method}|{dataset}|{seed}".encode()).hexdigest()
                rng = np.random.default_rng(int(digest[:8], 16))
                scores = (quality * positive + rng.normal(size=csr.nnz)).astype(np.float32)
                result = evaluate(scores, csr)
                stamp = f"2026-01-01T{index // 3600:02d}:{index // 60 % 60:02d}:{index % 60:02d}.000000+00:00"
                record = done_record(digest, method, dataset, config, seed, result, list(data.class_names), stamp,
                                     epoch=30, train_s=3.0, device_hours=0.001, peak_host_mb=900.0)
                store.insert_record(record, scores)
                index += 1
    return store


if __name__ == "__main__":
    build_store(Path(sys.argv[1]))
