"""bench: benchmark harness for multi-label classification with partial annotations.

The public API is importable from here. Names that need numpy, scipy or torch (the label
encoding, ``DatasetData``, ``Method``, ``TrainState``, ``LabelStore``, ``get_method``,
``get_dataset``, ...) load on first use, so ``import bench.<anything>`` costs nothing for them and
numpy-only parts of the engine (labels, protocols, manifests, metrics) import without torch.
"""
from __future__ import annotations

import importlib
from typing import Any

from bench.core.lazy_module import LazyModule
from bench.core.params import Param, with_defaults
from bench.core.version import __version__
from bench.plugins.official import OfficialArgsError, OfficialRun
from bench.plugins.registry import register_dataset, register_method
from bench.plugins.requirements import PriorSpec
from bench.plugins.selectors import format_selector

_LAZY = {
    **{name: "bench.labels.encoding" for name in ("NEG", "POS", "UNANN")},
    **{name: "bench.plugins.dataset" for name in ("DatasetData", "DatasetPlugin", "ImageDataset", "Split")},
    "Method": "bench.plugins.method", "TrainState": "bench.plugins.method", "LabelStore": "bench.labels.store",
    "get_method": "bench.runs.resolve", "get_dataset": "bench.runs.resolve",
    "get_dataset_class": "bench.runs.resolve",
    **{name: "bench.plugins.batch" for name in ("BatchWorld", "batch_world", "global_sum", "global_smallest_mask",
                                                "global_kth_largest", "stable_smallest_mask")},
}

__all__ = [
    "DatasetData", "DatasetPlugin", "ImageDataset", "Split", "NEG", "POS", "UNANN", "LabelStore", "Method",
    "TrainState", "Param", "with_defaults", "PriorSpec", "OfficialArgsError", "OfficialRun", "format_selector",
    "register_dataset", "register_method", "__version__", "get_dataset", "get_dataset_class", "get_method",
    "BatchWorld", "batch_world", "global_sum", "global_smallest_mask", "global_kth_largest", "stable_smallest_mask",
    "LazyModule",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bench' has no attribute '{name}'")
