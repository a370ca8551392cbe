"""Mode ``linear`` on any dataset: feature datasets train their head directly (``run_linear``); image
datasets first get their backbone's frozen pooled features from the feature cache
(``bench.training.feature_cache``: extracted once per backbone, weights, image list and
preprocessing) and then train the same head on them -- the "linear" protocol of Cole et al. 2021.

The record's ``extra.features`` holds the cache key, whether the entry was reused, its shape and
the extraction time (also ``timings.extract_s``; 0 on a cache hit). A backbone with random weights
gets a run note (``extra["notes"]``, warned once as a ``RunNoteWarning``).
"""
from __future__ import annotations

import warnings
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import torch

from bench.core.errors import RunNoteWarning
from bench.runs.resolve import PreparedDataset
from bench.runs.result import RunResult
from bench.training.linear_mode import run_linear

if TYPE_CHECKING:
    from bench.runs.config import ResolvedRun
    from bench.store import Store


def with_cached_features(resolved: ResolvedRun, prepared: PreparedDataset, store: Store) -> tuple[PreparedDataset, Any]:
    """``prepared`` whose splits carry the cached features (float16, memory-mapped) of their images."""
    from bench.training.feature_cache import cache_root, cached_features  # timm: image datasets only
    from bench.training.images.loader import default_workers

    run, data = resolved.run, prepared.data
    paths = list(data.train.images) + list(data.test.images)
    device = torch.device(run.device)
    workers = default_workers(device) if run.workers is None else run.workers
    cached = cached_features(paths, run.recipe, cache_root(store.path), device, workers)
    n_train = len(data.train)
    featured = replace(data, train=replace(data.train, features=cached.features[:n_train]),
                       test=replace(data.test, features=cached.features[n_train:]))
    return replace(prepared, data=featured), cached


def run_linear_any(resolved: ResolvedRun, prepared: PreparedDataset, store: Store, progress: bool | None) -> RunResult:
    """``run_linear`` on dataset features, or on cached backbone features for image datasets."""
    if prepared.data.train.features is not None:
        return run_linear(resolved, prepared, store, progress)
    from bench.training.backbones import weights_notes

    featured, cached = with_cached_features(resolved, prepared, store)
    result = run_linear(resolved, featured, store, progress)
    result.extra["features"] = cached.provenance()
    result.timings["extract_s"] = 0.0 if cached.hit else cached.meta["extract_s"]
    for note in weights_notes(resolved.run.recipe.backbone, "random" if resolved.run.recipe.pretrained is None else ""):
        result.extra.setdefault("notes", []).append(note)
        warnings.warn(note, RunNoteWarning, stacklevel=2)
    return result
