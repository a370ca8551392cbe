"""Class-prior estimation from model outputs (CSL, Ben-Baruch et al. CVPR 2022, §4 and eq. 10), and the
official prior CSV format.

* ``posthoc``: prior_c = mean over the training set of sigmoid(z_c), from one inference pass of the
  temporary Ignore-mode model after training (CSL eq. 10): feed every batch's logits once to a
  ``PriorAccumulator`` (or call ``posthoc_prior`` on all logits).
* ``running``: the official ``ComputePrior`` behaviour (reference_semantics.md §1.4): a running mean
  of sigmoid(z) over every training step's predictions since step 0, never reset between epochs:
  feed each training batch's logits to one ``PriorAccumulator`` for the whole run.

CSV (``train_avg_preds.csv`` of the official code): header ``Classes,avg_pred``, then one
``name,value`` row per class in class-index order. The released COCO FPC-1000 file ends with a
stray number line, which ``read_prior_csv`` skips with a warning.
"""
from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
import torch

from bench.core.errors import InputError
from bench.metrics import spearman

HEADER = ("Classes", "avg_pred")


class PriorFileError(InputError):
    """A prior CSV that does not match the official format or the expected class list."""


class PriorAccumulator:
    """Running mean of sigmoid(logits) over every row fed to ``update`` (float64 sums)."""

    def __init__(self, num_classes: int):
        self.total = np.zeros(num_classes, dtype=np.float64)
        self.count = 0

    def update(self, logits: torch.Tensor | np.ndarray) -> None:
        """Add a (B, C) batch of logits."""
        probs = torch.sigmoid(torch.as_tensor(logits).detach().float()).double()
        if probs.ndim != 2 or probs.shape[1] != self.total.shape[0]:
            raise ValueError(f"prior: expected logits of shape (B, {self.total.shape[0]}), got {tuple(probs.shape)}")
        self.total += probs.sum(dim=0).cpu().numpy()
        self.count += probs.shape[0]

    def value(self) -> np.ndarray:
        """The current estimate prior_c = sum sigmoid(z_c) / rows seen (float64, shape (C,))."""
        if self.count == 0:
            raise ValueError("prior: no predictions accumulated yet")
        return self.total / self.count


def posthoc_prior(logits: torch.Tensor | np.ndarray | Iterable[torch.Tensor]) -> np.ndarray:
    """CSL eq. 10: mean over the training set of sigmoid(z_c). ``logits``: one (N, C) array or an
    iterable of (B, C) batches from one inference pass."""
    batches = [logits] if isinstance(logits, (torch.Tensor, np.ndarray)) else list(logits)
    if not batches:
        raise ValueError("prior: no logits given")
    accumulator = PriorAccumulator(int(np.shape(batches[0])[1]))
    for batch in batches:
        accumulator.update(batch)
    return accumulator.value()


def true_class_frequencies(labels: np.ndarray | sp.spmatrix | sp.sparray) -> np.ndarray:
    """Fraction of rows in which each class is positive (labels in our encoding or 0/1)."""
    positives = (labels == 1).sum(axis=0)
    return np.asarray(positives, dtype=np.float64).reshape(-1) / labels.shape[0]


def prior_spearman(prior: Sequence[float] | np.ndarray, frequencies: Sequence[float] | np.ndarray) -> float:
    """Spearman rank correlation of an estimated prior with the true class frequencies (CSL Fig. 7)."""
    return spearman(np.asarray(prior), np.asarray(frequencies))


def read_prior_csv(path: str | Path, class_names: Sequence[str]) -> np.ndarray:
    """The prior of ``class_names`` (in that order) from an official ``Classes,avg_pred`` CSV.

    Raises ``PriorFileError`` naming the file and line for a bad header, a class out of order,
    a missing or extra class, or a value that is not a probability. A final line holding a single
    number (the released COCO file's stray line) is skipped with a warning.
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [(number, row) for number, row in enumerate(csv.reader(handle), start=1) if any(f.strip() for f in row)]
    if not rows or tuple(f.strip() for f in rows[0][1]) != HEADER:
        raise PriorFileError(f"{path}:1: expected the header 'Classes,avg_pred'")
    body = rows[1:]
    if body and len(body[-1][1]) == 1 and _is_number(body[-1][1][0]):
        number, row = body.pop()
        warnings.warn(f"{path}:{number}: skipping the stray line {row[0]!r} (not a 'class,value' row)", stacklevel=2)
    values = np.empty(len(class_names), dtype=np.float64)
    for position, (number, row) in enumerate(body):
        if len(row) != 2:
            raise PriorFileError(f"{path}:{number}: expected 'class,avg_pred', got {','.join(row)!r}")
        if position >= len(class_names):
            raise PriorFileError(f"{path}:{number}: extra class {row[0]!r}; expected {len(class_names)} classes")
        if row[0] != class_names[position]:
            raise PriorFileError(f"{path}:{number}: class {row[0]!r} where {class_names[position]!r} is expected "
                                 f"(rows must follow the class order)")
        if not _is_number(row[1]) or not 0.0 <= float(row[1]) <= 1.0:
            raise PriorFileError(f"{path}:{number}: avg_pred {row[1]!r} is not a probability")
        values[position] = float(row[1])
    if len(body) < len(class_names):
        raise PriorFileError(f"{path}: {len(body)} classes, expected {len(class_names)}; "
                             f"missing {class_names[len(body)]!r} after line {body[-1][0] if body else 1}")
    return values


def write_prior_csv(path: str | Path, class_names: Sequence[str], prior: Sequence[float] | np.ndarray) -> None:
    """Write ``prior`` in the official format (header ``Classes,avg_pred``, class order)."""
    prior = np.asarray(prior, dtype=np.float64).reshape(-1)
    if prior.shape[0] != len(class_names):
        raise ValueError(f"prior: {prior.shape[0]} values for {len(class_names)} classes")
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows((name, repr(float(value))) for name, value in zip(class_names, prior))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
