"""``bench doctor``'s self-test: the real finetune loop, for about ``seconds``, on synthetic images.

A synthetic image dataset (``SyntheticImages``, registered only for the test's duration) lists a
pool of at most ``POOL`` seeded noise images at the recipe's input size, cyclically, with seeded
+-1 labels over ``CLASSES`` classes. The self-test runs the default method through the whole run
path (``bench.runs.execute``: data checks, image loader, AMP, optimiser, EMA, inference, store) in a
temporary store, twice: a one-batch calibration run, then a run sized from the calibration's
throughput to fill the rest of the budget. It reports that run's images/s (training), peak host and
CUDA memory, and the recipe it used.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.core.params import Param
from bench.labels.encoding import NEG, POS
from bench.plugins.dataset import DatasetData, ImageDataset, Split
from bench.plugins.registry import DATASETS, METHODS
from bench.runs.config import RunConfig, resolve_config
from bench.runs.execute import execute
from bench.runs.recipe_files import recipe_for_run
from bench.store import Store

SELF_TEST_DATASET = "bench-doctor-synthetic"
POOL = 32
CLASSES = 10
TEST_ROWS = 8
MAX_ROWS = 20_000


class SyntheticImages(ImageDataset):
    """Seeded noise images at ``size`` px with seeded +-1 labels (the doctor's self-test)."""

    version = "1"
    description = "doctor self-test: synthetic noise images, seeded labels"
    parameters = {
        "root": Param(None, type=str, help="folder the images are written to"),
        "rows": Param(16, min=1, help="training rows (the image pool is listed cyclically)"),
        "size": Param(448, min=8, help="image side in pixels"),
    }

    def read(self) -> DatasetData:
        root = Path(str(self.root))
        pool = [root / f"synthetic_{i:02d}.jpg" for i in range(POOL)]
        rng = np.random.default_rng(0)
        for path in pool:
            if not path.exists():
                pixels = rng.integers(0, 256, (self.size // 8, self.size // 8, 3), dtype=np.uint8)
                Image.fromarray(pixels).resize((self.size, self.size)).save(path, quality=90)
        splits = {}
        for split, rows in (("train", self.rows), ("test", TEST_ROWS)):
            labels = np.where(rng.random((rows, CLASSES)) < 0.3, POS, NEG).astype(np.int8)
            labels[0], labels[-1] = POS, NEG  # every class has a positive and a negative
            splits[split] = Split(labels, images=[str(pool[i % POOL]) for i in range(rows)],
                                  ids=[f"{split}-{i}" for i in range(rows)])
        return DatasetData(name=SELF_TEST_DATASET, class_names=[f"class_{c}" for c in range(CLASSES)],
                           train=splits["train"], test=splits["test"], fully_labelled=True)


def _run(store: Store, root: Path, rows: int, device: str, recipe: Any) -> Any:
    config = RunConfig(method=METHODS.default().name, dataset=f"{SELF_TEST_DATASET}[root={root},rows={rows},"
                       f"size={recipe.image_size}]", mode="finetune", recipe=recipe, select_on="last",
                       val_fraction=0.0, device=device)
    return execute(resolve_config(config), store, force=True, progress=False).record


def finetune_self_test(device: str, seconds: float = 30.0, image_size: int = 448,
                       overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the finetune loop for about ``seconds`` on ``device`` (see the module docstring); the
    recipe is the finetune mode's default recipe, one epoch, updated by ``overrides``."""
    started = time.perf_counter()
    _, recipe = recipe_for_run("finetune", True, None, {**(overrides or {}), "image_size": image_size})
    recipe = replace(recipe, epochs=1)
    with tempfile.TemporaryDirectory(prefix="bench-doctor-") as folder, DATASETS.snapshot():
        DATASETS.register(SELF_TEST_DATASET)(SyntheticImages)
        store = Store(Path(folder) / "doctor.db")
        calibration = _run(store, Path(folder), recipe.batch_size, device, recipe)
        speed = max(float(calibration.cost["samples_per_s"]), 1e-3)
        left = max(seconds - (time.perf_counter() - started), 0.0)
        batches = int(speed * left * 0.6) // recipe.batch_size
        rows = min(max(batches, 1) * recipe.batch_size, MAX_ROWS)
        record = _run(store, Path(folder), rows, device, recipe)
    return {
        "device": device, "backbone": recipe.backbone, "image_size": recipe.image_size,
        "batch_size": recipe.batch_size, "amp": recipe.amp, "channels_last": recipe.channels_last,
        "images": rows, "images_per_s": float(record.cost["samples_per_s"]),
        "peak_host_mb": record.cost.get("peak_host_mb"), "peak_cuda_mb": record.cost.get("peak_cuda_mb"),
        "precision": (record.extra or {}).get("precision"),
        "seconds": time.perf_counter() - started,
    }
