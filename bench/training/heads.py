"""Models trained by the engine.

Feature datasets (``kind == "features"``) train a head on fixed features: ``linear`` (one affine
layer, logistic regression per class) or ``mlp`` (one hidden ReLU layer). Both first standardise
each feature with the mean and standard deviation of the training rows (a fixed, non-trained layer),
so one learning rate suits datasets whose features live on different scales.

``build_model`` is the seam through which the feature trainer gets a model; the image mode
``finetune`` builds its timm backbones with ``bench.training.backbones.create_backbone`` (weights
provenance included) and trains them with ``bench.training.finetune.loop``. ``BottleneckHead`` is
the classifier of the official OpenImages models (``classifier: bottleneck`` in an image recipe).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bench.core.errors import InputError

HEADS = ("linear", "mlp")
MODES = ("linear",)


class UnsupportedModeError(InputError):
    """A training mode or head this engine cannot build (yet)."""


class Standardize(nn.Module):
    """x -> (x - mean) / std with per-feature statistics fixed at construction (std 0 -> 1)."""

    def __init__(self, mean: np.ndarray, std: np.ndarray):
        super().__init__()
        std = np.where(std > 0, std, 1.0)
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(1.0 / std, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) * self.scale


def feature_head(in_dim: int, num_classes: int, head: str = "linear", hidden: int = 256) -> nn.Module:
    """The trainable part of a feature model: ``linear`` or ``mlp`` (Linear-ReLU-Linear)."""
    if head == "linear":
        return nn.Linear(in_dim, num_classes)
    if head == "mlp":
        return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))
    raise UnsupportedModeError(f"unknown head '{head}'; known: {', '.join(HEADS)}")


class BottleneckHead(nn.Module):
    """The official helper functions' ``bottleneck_head`` (Alibaba-MIIL PartialLabelingCSL / ASL,
    ``src/models/tresnet/tresnet.py``; ``parse_args`` turns it on for ``dataset_type == 'OpenImages'``):
    logits = FC(embedding_generator(x)) with embedding_generator = Sequential(Linear(F, D)) and
    FC = Linear(D, C) -- two affine maps, no activation between them, D = 512 as TResNet passes.
    Weights are drawn N(0, 0.01) as TResNet initialises every ``nn.Linear``; biases keep torch's
    default. The module names match the official state dict (``embedding_generator.0``, ``FC``)."""

    def __init__(self, num_features: int, num_classes: int, bottleneck_features: int = 512):
        super().__init__()
        self.embedding_generator = nn.Sequential(nn.Linear(num_features, bottleneck_features))
        self.FC = nn.Linear(bottleneck_features, num_classes)
        for layer in (self.embedding_generator[0], self.FC):
            layer.weight.data.normal_(0, 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.FC(self.embedding_generator(x))


def build_model(
    mode: str,
    *,
    num_classes: int,
    features: np.ndarray | None = None,
    head: str = "linear",
    hidden: int = 256,
) -> nn.Module:
    """The model of a run.

    ``mode="linear"``: standardisation fitted on ``features`` (the training rows, (N, D) float32)
    followed by ``feature_head``. Parameters are initialised from torch's global generator, which
    the trainer seeds.
    """
    if mode != "linear":
        raise UnsupportedModeError(
            f"mode '{mode}' is not available: build_model makes feature heads (modes: {', '.join(MODES)}); "
            "image backbones come from bench.training.backbones.create_backbone"
        )
    if features is None or features.ndim != 2:
        raise UnsupportedModeError("mode 'linear' needs a (samples x features) matrix of training features")
    features64 = features.astype(np.float64)
    standardize = Standardize(features64.mean(axis=0), features64.std(axis=0))
    return nn.Sequential(standardize, feature_head(features.shape[1], num_classes, head, hidden))
