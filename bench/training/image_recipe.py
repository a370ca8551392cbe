"""The image transforms of an ``ImageRecipe`` (bench/runs/recipe.py): CSL's squish resize, Cutout and
RandAugment (the official package's, or torchvision's) on training images (docs/methods.md §6)."""
from __future__ import annotations

from torch import nn

from bench.runs.recipe import ImageRecipe
from bench.training.images.transforms import image_transform, normalization


def recipe_transform(recipe: ImageRecipe, model: nn.Module, train: bool):
    """The recipe's training (augmented) or evaluation transform; ``normalize="model"`` reads the
    backbone's ``pretrained_cfg`` mean and std. ``image_size`` must be resolved."""
    cfg = getattr(model, "pretrained_cfg", {}) or {}
    mean_std = normalization(recipe.normalize, cfg.get("mean"), cfg.get("std"))
    return image_transform(recipe.image_size, train, cutout=recipe.cutout, randaugment=recipe.randaugment,
                           randaugment_ops=recipe.randaugment_ops, randaugment_magnitude=recipe.randaugment_magnitude,
                           mean_std=mean_std, hflip=recipe.hflip)
