"""Frozen backbone features of an image list, extracted once and memory-mapped from disk (float16).

The cache key is the sha256 of (backbone name, weights identity, image list hash, preprocessing,
format version, timm version): the weights identity is the file's sha256 for ``--pretrained PATH``,
the hub tag for hub weights, and "random, seed 0" otherwise (feature extractors are always built
under ``manual_seed(0)``, so every run seed shares them); the image list hash covers each path and
its size in bytes; preprocessing is the image size, the squish resize and the normalisation. Labels,
protocols, methods and run seeds are not part of the key: every run on the same images and backbone
reuses the same features, and a change of any key field gives a new entry.

Layout: ``<root>/<key>/features.npy`` (N, D) float16 and ``meta.json`` (key fields, shape, the
images that could not be read -- their features are those of a blank image -- and the extraction
time), ``root`` being ``$BENCH_CACHE`` or ``feature-cache`` beside the store. Two processes building
the same entry serialise on ``<root>/<key>.lock`` (``filelock``); the builder writes into a private
temporary folder and renames it into place (``os.replace``), so readers only ever see complete
entries and the second process reuses the first one's work.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import timm
import torch
from filelock import FileLock

from bench.core.hashing import json_sha256
from bench.runs.recipe import ImageRecipe
from bench.training.backbones import create_backbone, weights_identity
from bench.training.image_recipe import recipe_transform
from bench.training.images import BadImages, ImageRows
from bench.training.images.inference import Precision, infer

FORMAT = 1
EXTRACTOR_SEED = 0
RESIZE = "squish (S, S), bilinear"


def cache_root(store_path: str | Path) -> Path:
    """``$BENCH_CACHE`` or ``<store folder>/feature-cache``."""
    env = os.environ.get("BENCH_CACHE")
    return Path(env) if env else Path(store_path).resolve().parent / "feature-cache"


def image_list_sha256(paths: Sequence[str]) -> str:
    """sha256 over every ``path`` and its size in bytes (-1 when missing), in order."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            size = os.stat(path).st_size
        except OSError:
            size = -1
        digest.update(f"{path}\0{size}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def feature_key(paths: Sequence[str], recipe: ImageRecipe) -> dict[str, Any]:
    """The fields that identify an entry (see the module docstring)."""
    weights = weights_identity(recipe.pretrained)
    if weights["source"] == "random":
        weights = {**weights, "seed": EXTRACTOR_SEED}
    return {
        "format": FORMAT, "timm": timm.__version__, "backbone": recipe.backbone, "weights": weights,
        "images": {"sha256": image_list_sha256(paths), "count": len(paths)},
        "preprocessing": {"image_size": recipe.image_size, "resize": RESIZE, "normalize": recipe.normalize},
    }


@dataclass(frozen=True)
class CachedFeatures:
    """An entry: ``features`` (N, D) float16 memory-mapped read-only, its key and meta, and whether
    this call found it (``hit``) or extracted it."""

    features: np.ndarray
    key: str
    meta: dict[str, Any]
    hit: bool

    def provenance(self) -> dict[str, Any]:
        return {"key": self.key, "cache_hit": self.hit, "shape": list(self.features.shape),
                "extract_s": self.meta["extract_s"], "backbone": self.meta["key"]["backbone"],
                "weights": self.meta["key"]["weights"], "bad_images": self.meta["bad_images"]}


def _load(folder: Path, key: str, hit: bool) -> CachedFeatures:
    meta = json.loads((folder / "meta.json").read_text())
    return CachedFeatures(np.load(folder / "features.npy", mmap_mode="r"), key, meta, hit)


def _extract(paths: Sequence[str], recipe: ImageRecipe, target: Path, device: torch.device, workers: int) -> dict:
    """Write ``features.npy`` into ``target``; return the bad-image report and timing."""
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(EXTRACTOR_SEED)
        model, weights = create_backbone(recipe.backbone, 0, recipe.pretrained)
    model.to(device)
    precision = Precision(None, channels_last=device.type == "cuda")
    if precision.channels_last:
        model = model.to(memory_format=torch.channels_last)
    rows = ImageRows(paths, recipe_transform(recipe, model, train=False), recipe.image_size)
    bad = BadImages("feature", paths)
    features = infer(model, rows, bad, batch_size=recipe.batch_size, workers=workers, device=device,
                     precision=precision, collective=False)
    out = np.lib.format.open_memmap(target / "features.npy", mode="w+", dtype=np.float16, shape=features.shape)
    out[:] = features
    out.flush()
    del out
    return {"bad_images": bad.to_dict(), "extract_s": time.perf_counter() - started,
            "weights_detail": weights.to_dict(), "device": str(device)}


def cached_features(paths: Sequence[str], recipe: ImageRecipe, root: str | Path, device: torch.device,
                    workers: int) -> CachedFeatures:
    """The features of ``paths`` under ``recipe``'s backbone and preprocessing, from the cache or
    extracted into it (see the module docstring). ``recipe.image_size`` must be resolved."""
    root = Path(root)
    fields = feature_key(paths, recipe)
    key = json_sha256(fields)
    folder = root / key
    if (folder / "meta.json").is_file():
        return _load(folder, key, True)
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / f"{key}.lock")):
        if (folder / "meta.json").is_file():
            return _load(folder, key, True)
        temporary = root / f".{key}.{os.getpid()}.tmp"
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir()
        try:
            report = _extract(paths, recipe, temporary, device, workers)
            meta = {"key": fields, "key_sha256": key, **report}
            (temporary / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
            os.replace(temporary, folder)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
    return _load(folder, key, False)
