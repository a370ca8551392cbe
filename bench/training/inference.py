"""Scores of a trained model: logits and sigmoid outputs, computed in chunks without gradient."""
from __future__ import annotations

import torch
from torch import nn

SCORE_CHUNK = 4096


def logits_of(model: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """model(features) in float32 on the CPU, in eval mode, computed in chunks without gradient."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, features.shape[0], SCORE_CHUNK):
            out.append(model(features[start : start + SCORE_CHUNK]).float().cpu())
    return torch.cat(out) if out else torch.empty(0)


def predict(model: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """sigmoid(model(features)): the scores every evaluation ranks (float32, CPU)."""
    return torch.sigmoid(logits_of(model, features))
