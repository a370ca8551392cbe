"""Scores of a trained model: logits and sigmoid outputs, computed in chunks without gradient.

``split_scores`` is what an evaluation ranks: dense (N, C) scores for dense labels, and for sparse
(CSR) labels only the scores at the annotated entries, in canonical CSR order, gathered chunk by
chunk (``bench.metrics.entries.entry_scores_by_blocks``), so a 125,436 x 9,600 split never holds its
dense scores (``evaluate`` takes either form).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch import nn

from bench.labels.encoding import LabelMatrix, canonical_csr, is_sparse
from bench.metrics.entries import entry_scores_by_blocks

SCORE_CHUNK = 4096


def logit_chunks(model: nn.Module, features: torch.Tensor) -> Iterator[torch.Tensor]:
    """model(features) in float32 on the CPU, in eval mode, without gradient, ``SCORE_CHUNK`` rows
    at a time: an OpenImages-scale training set (160,000 x 9,600) never holds its 6 GB of logits."""
    model.eval()
    for start in range(0, features.shape[0], SCORE_CHUNK):
        with torch.no_grad():
            chunk = model(features[start : start + SCORE_CHUNK]).float().cpu()
        yield chunk


def logits_of(model: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """model(features) in float32 on the CPU, in eval mode, computed in chunks without gradient."""
    out = list(logit_chunks(model, features))
    return torch.cat(out) if out else torch.empty(0)


def predict(model: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """sigmoid(model(features)): the scores every evaluation ranks (float32, CPU)."""
    return torch.sigmoid(logits_of(model, features))


def split_scores(model: nn.Module, features: torch.Tensor, labels: LabelMatrix) -> tuple[np.ndarray, LabelMatrix]:
    """(scores, labels) to evaluate ``model`` on a split (see the module docstring): dense sigmoid
    scores with ``labels`` as given when they are dense, else float32 entry scores with the labels'
    canonical CSR."""
    if not is_sparse(labels):
        return predict(model, features).numpy(), labels
    csr = canonical_csr(labels)
    model.eval()

    def rows(start: int, stop: int) -> np.ndarray:
        with torch.no_grad():
            return torch.sigmoid(model(features[start:stop]).float()).cpu().numpy()

    return entry_scores_by_blocks(rows, csr, SCORE_CHUNK), csr
