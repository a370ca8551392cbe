"""Speed of the training engine's input and of the feature-mode leaderboard (issue 7).

Run: ``python -m pytest benchmarks/test_training_speed.py --benchmark-only -s``.

* Image loading: ``bench.training.images`` (worker processes, per-image seeded augmentation) against a plain
  single-process PIL + torchvision pipeline with the same CSL training transform (448 px squish,
  Cutout, RandAugment, ToTensor), on the 256 full-size COCO images of ../shared (the vendored
  coco-mini thumbnails without it), timed in the same run. Goal: at least 1.3x with 2 workers.
* Feature mode: every installed method x 3 seeds on ``scene`` and on ``coco-mini`` features (random
  ResNet-18 weights, 64 px, extracted once into the feature cache), default linear recipe. Goal:
  at most 10 minutes on 2 cores.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from time import perf_counter

import pytest
import torch
from PIL import Image

from bench.plugins.registry import DATASETS, METHODS
from bench.runs.config import RunConfig
from bench.runs.execute import execute
from bench.runs.recipe import ImageRecipe
from bench.store import Store
from bench.training.images import ImageRows, image_loader, image_transform
from bench.training.linear_mode import peak_host_mb

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "coco2017_first128" / "images"
SIZE, BATCH, WORKERS = 448, 32, 2
MIN_LOADER_RATIO = 1.3
MAX_LEADERBOARD_S = 600.0
SEEDS = (0, 1, 2)


def _image_paths() -> list[str]:
    if SHARED_IMAGES.is_dir():
        return sorted(str(p) for p in SHARED_IMAGES.glob("*/*.jpg"))
    data = DATASETS.get("coco-mini")().load()
    return list(data.train.images) + list(data.test.images)


def _plain_pipeline(paths: list[str]) -> int:
    transform = image_transform(SIZE, train=True)
    count = 0
    for start in range(0, len(paths), BATCH):
        batch = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths[start:start + BATCH]])
        count += batch.shape[0]
    return count


def _our_loader(paths: list[str]) -> int:
    rows = ImageRows(paths, image_transform(SIZE, train=True), SIZE, seed=0)
    return sum(batch.images.shape[0] for batch in image_loader(rows, torch.arange(len(paths)), BATCH, WORKERS,
                                                               torch.device("cpu")))


def test_data_loader_images_per_second_against_plain_pil(benchmark, capsys):
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs 2 cores for 2 loader workers")
    paths = _image_paths()
    started = perf_counter()
    assert _plain_pipeline(paths) == len(paths)
    plain_s = perf_counter() - started
    ours_s = []

    def timed():
        begin = perf_counter()
        assert _our_loader(paths) == len(paths)
        ours_s.append(perf_counter() - begin)

    benchmark.pedantic(timed, rounds=2, iterations=1)
    figures = {"images": len(paths), "plain_images_per_s": len(paths) / plain_s,
               "ours_images_per_s": len(paths) / min(ours_s), "ratio": plain_s / min(ours_s), "workers": WORKERS,
               "peak_host_mb": peak_host_mb()}
    benchmark.extra_info.update(figures)
    with capsys.disabled():
        print("\ndata loader:", json.dumps(figures))
    assert figures["ratio"] >= MIN_LOADER_RATIO


def _leaderboard(store: Store) -> list:
    image_recipe = ImageRecipe(backbone="resnet18", image_size=64, lr=1e-3)
    records = []
    for dataset, recipe in (("scene+rpa[p=0.5]", None), ("coco-mini+rpa[p=0.5]", image_recipe)):
        for method in sorted(METHODS.classes()):
            for seed in SEEDS:
                config = RunConfig(method, dataset, seed=seed, mode="linear", workers=WORKERS,
                                   **({"recipe": recipe} if recipe is not None else {}))
                records.append(execute(config, store, progress=False).record)
    return records


def test_feature_mode_leaderboard_within_ten_minutes(benchmark, tmp_path, capsys):
    timings = []

    def timed():
        begin = perf_counter()
        records = _leaderboard(Store(tmp_path / f"bench-{len(timings)}.db"))
        timings.append((perf_counter() - begin, records))

    benchmark.pedantic(timed, rounds=1, iterations=1)
    seconds, records = timings[0]
    image_runs = [r for r in records if "features" in r.extra]
    figures = {"runs": len(records), "methods": len(METHODS.classes()), "seeds": len(SEEDS), "seconds": seconds,
               "feature_extractions": sum(not r.extra["features"]["cache_hit"] for r in image_runs),
               "peak_host_mb": peak_host_mb(), "threads": torch.get_num_threads()}
    benchmark.extra_info.update(figures)
    with capsys.disabled():
        print("\nfeature-mode leaderboard:", json.dumps(figures))
    assert all(r.status == "done" for r in records) and len(image_runs) == len(records) // 2
    assert figures["feature_extractions"] == 1
    assert seconds <= MAX_LEADERBOARD_S
