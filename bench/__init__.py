"""bench: benchmark harness for multi-label classification with partial annotations.

The public API is importable from here. Names that need torch (``Method``, ``TrainState``,
``LabelStore``, ``get_method``, ``get_dataset``) load on first use, so numpy-only parts of the engine
(labels, protocols, manifests, metrics) import without torch.
"""
from __future__ import annotations

import importlib
from typing import Any

from bench.core.params import Param
from bench.core.version import __version__
from bench.labels.encoding import NEG, POS, UNANN
from bench.plugins.dataset import DatasetData, DatasetPlugin, ImageDataset, Split
from bench.plugins.official import OfficialArgsError, OfficialRun
from bench.plugins.registry import register_dataset, register_method
from bench.plugins.requirements import PriorSpec
from bench.plugins.selectors import format_selector

_LAZY = {
    "Method": "bench.plugins.method", "TrainState": "bench.plugins.method", "LabelStore": "bench.labels.store",
    "get_method": "bench.runs.resolve", "get_dataset": "bench.runs.resolve",
    "get_dataset_class": "bench.runs.resolve",
}

__all__ = [
    "DatasetData", "DatasetPlugin", "ImageDataset", "Split", "NEG", "POS", "UNANN", "LabelStore", "Method",
    "TrainState", "Param", "PriorSpec", "OfficialArgsError", "OfficialRun", "format_selector", "register_dataset",
    "register_method", "__version__", "get_dataset", "get_dataset_class", "get_method",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bench' has no attribute '{name}'")
