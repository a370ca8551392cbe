"""Cole et al. (CVPR 2021, single-positive-multi-label) row order and validation split.

Reproduced from the described behaviour of their ``preproc/format_coco.py`` and ``datasets.py``
(docs/methods.md §3.4):

* rows: images with >= 1 annotation, ordered by image id **sorted as strings** ("100" < "25");
* validation: ``n_val = round(val_frac * N)`` (numpy's round-half-even), ``perm =
  RandomState(split_seed).permutation(N)``, val = sorted(last ``n_val`` of ``perm``), train = sorted
  (first ``N - n_val``), with ``val_frac = 0.2`` and ``split_seed = 1200``; the test split is the
  official val2014 in the same string order.

Assumed (not visible in their code): their optional train/val subsampling runs with its default
fraction 1.0, which keeps every row.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

COLE_VAL_FRACTION = 0.2
COLE_SPLIT_SEED = 1200


def cole_order(image_ids: Iterable[int]) -> list[int]:
    """``image_ids`` sorted by their decimal text (Cole et al.'s row order)."""
    return sorted(image_ids, key=str)


def cole_val_index(num_rows: int, val_fraction: float = COLE_VAL_FRACTION,
                   split_seed: int = COLE_SPLIT_SEED) -> np.ndarray:
    """Sorted int64 indices of Cole et al.'s validation rows among ``num_rows`` training rows."""
    num_val = int(np.round(val_fraction * num_rows))
    if num_val == 0:
        return np.zeros(0, dtype=np.int64)
    permutation = np.random.RandomState(split_seed).permutation(num_rows)
    return np.sort(permutation[-num_val:]).astype(np.int64)
