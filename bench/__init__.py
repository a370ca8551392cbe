"""bench: benchmark harness for multi-label classification with partial annotations."""
from __future__ import annotations

from bench.dataset import DatasetData, DatasetPlugin, Split
from bench.labels import NEG, POS, UNANN
from bench.method import LabelStore, Method, TrainState
from bench.params import Param
from bench.registry import register_dataset, register_method

__version__ = "0.1.0"

__all__ = [
    "DatasetData", "DatasetPlugin", "Split", "NEG", "POS", "UNANN", "LabelStore", "Method",
    "TrainState", "Param", "register_dataset", "register_method", "__version__",
]
