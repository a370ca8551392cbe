"""A loaded dataset's labelled splits: what every dataset plugin's ``load()`` returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.labels.encoding import LabelMatrix


@dataclass
class Split:
    """One split: labels (N, C) plus features (N, D) float32 or image paths, and row ids."""

    labels: LabelMatrix
    features: np.ndarray | None = None
    images: list[str] | None = None
    ids: list[str] | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass
class DatasetData:
    """A loaded dataset: class list, the official training split and the test split.

    ``class_groups`` maps a group name (``rare``, ``G1``, ...) to class indices; ``fully_labelled``
    says whether every class was assessed for every training image (protocols may then simulate
    partial labels); a few entries the dataset itself leaves un-annotated (VOC's "difficult") are
    allowed and stay un-annotated.
    ``val_index`` is a reference validation carve (row indices into ``train``, e.g. Cole et al.'s
    80/20 split with seed 1200) used instead of the seeded carve when given.
    """

    name: str
    class_names: list[str]
    train: Split
    test: Split
    fully_labelled: bool = True
    class_groups: dict[str, list[int]] = field(default_factory=dict)
    val_index: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)
