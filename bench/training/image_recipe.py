"""``ImageRecipe``: the ``Recipe`` of runs on image datasets, defaulting to CSL's train.py.

Defaults (reference_semantics §1.8): backbone ``tresnet_m``, squish resize to (S, S) with S = the
dataset plugin's ``image_size`` class attribute when it has one (64 for coco-mini; CSL uses 224
for OpenImages, which its plugins declare this way) and 448 otherwise, no mean/std normalisation, Cutout(0.5) + RandAugment(2, 9) on
training images, Adam lr 2e-4 with coupled L2 weight decay 1e-4 on weight matrices only, OneCycle
(pct_start 0.2) per batch, EMA decay 0.9997, batch 64, 30 epochs, AMP (``auto``: bf16 where the GPU
supports it, else fp16 with a GradScaler; off on CPU) and channels_last on CUDA.

``recipe_config(recipe, mode, kind)`` is the part of a run's configuration hash a recipe
contributes: a feature dataset hashes the base ``Recipe`` fields only (so feature runs keep their
hashes), ``linear`` on images adds what shapes the features (backbone, weights identity, image size,
normalisation), ``finetune`` hashes every field but the head of the feature modes. ``pretrained`` is
hashed as its file's sha256, never as a path.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from torch import nn

from bench.core.errors import InputError
from bench.training.backbones import check_backbone_name, weights_identity
from bench.training.images.transforms import NORMALIZATIONS, image_transform, normalization
from bench.training.trainer import Recipe

DEFAULT_IMAGE_SIZE = 448
AMP_MODES = ("auto", "bf16", "fp16", "off")
FEATURE_FIELDS = ("backbone", "image_size", "normalize")
BASE_FIELDS = tuple(f.name for f in fields(Recipe))


class RecipeError(InputError):
    """A recipe value out of range, or a field that does not apply to the run."""


@dataclass(frozen=True)
class ImageRecipe(Recipe):
    """Every field of a run on images (see the module docstring); ``image_size`` None = automatic."""

    lr: float = 2e-4
    backbone: str = "tresnet_m"
    pretrained: str | None = None
    image_size: int | None = None
    normalize: str = "none"
    cutout: float = 0.5
    randaugment_ops: int = 2
    randaugment_magnitude: int = 9
    ema_decay: float = 0.9997
    amp: str = "auto"
    channels_last: bool = True
    deterministic: bool = False


def check_image_recipe(recipe: ImageRecipe) -> None:
    """Raise ``RecipeError`` naming the first field out of range (``BackboneError`` for a backbone
    name timm does not know)."""
    checks = [
        (recipe.image_size is None or recipe.image_size >= 8, f"image_size must be >= 8; got {recipe.image_size}"),
        (recipe.normalize in NORMALIZATIONS, f"normalize must be one of {', '.join(NORMALIZATIONS)}; got '{recipe.normalize}'"),
        (0.0 <= recipe.cutout <= 1.0, f"cutout must be in [0, 1] (0 = off); got {recipe.cutout}"),
        (recipe.randaugment_ops >= 0, f"randaugment_ops must be >= 0 (0 = off); got {recipe.randaugment_ops}"),
        (0 <= recipe.randaugment_magnitude <= 30, f"randaugment_magnitude must be in [0, 30]; got {recipe.randaugment_magnitude}"),
        (0.0 <= recipe.ema_decay < 1.0, f"ema_decay must be in [0, 1) (0 = no EMA); got {recipe.ema_decay}"),
        (recipe.amp in AMP_MODES, f"amp must be one of {', '.join(AMP_MODES)}; got '{recipe.amp}'"),
    ]
    for ok, message in checks:
        if not ok:
            raise RecipeError(message)
    check_backbone_name(recipe.backbone)


def with_image_size(recipe: ImageRecipe, plugin_class: type) -> ImageRecipe:
    """``recipe`` with an automatic ``image_size`` replaced by the dataset's (or 448)."""
    if recipe.image_size is not None:
        return recipe
    return replace(recipe, image_size=int(getattr(plugin_class, "image_size", DEFAULT_IMAGE_SIZE)))


def run_recipe(recipe: Recipe, plugin_class: type) -> Recipe:
    """The recipe a run uses: an ``ImageRecipe`` is checked and gets its automatic image size."""
    if not isinstance(recipe, ImageRecipe):
        return recipe
    check_image_recipe(recipe)
    return with_image_size(recipe, plugin_class)


def recipe_config(recipe: Recipe, mode: str, kind: str) -> dict[str, Any]:
    """The recipe's part of the configuration hash (see the module docstring)."""
    values = recipe.to_dict()
    if kind == "features":
        if isinstance(recipe, ImageRecipe) and recipe != ImageRecipe(**{k: values[k] for k in BASE_FIELDS}):
            raise RecipeError("backbone, image and fine-tuning fields apply to image datasets only")
        out = {k: values[k] for k in BASE_FIELDS}
    elif not isinstance(recipe, ImageRecipe):
        raise RecipeError(f"mode '{mode}' on an image dataset needs an image recipe (backbone, image size, ...)")
    elif mode == "finetune":
        out = {k: v for k, v in values.items() if k not in ("head", "hidden", "pretrained", "deterministic")}
    else:
        out = {k: values[k] for k in (*BASE_FIELDS, *FEATURE_FIELDS)}
    if out.get("head") != "mlp":
        out.pop("hidden", None)
    if kind == "images":
        out["weights"] = weights_identity(recipe.pretrained)
    return out


def recipe_transform(recipe: ImageRecipe, model: nn.Module, train: bool):
    """The recipe's training (augmented) or evaluation transform; ``normalize="model"`` reads the
    backbone's ``pretrained_cfg`` mean and std. ``image_size`` must be resolved."""
    cfg = getattr(model, "pretrained_cfg", {}) or {}
    mean_std = normalization(recipe.normalize, cfg.get("mean"), cfg.get("std"))
    return image_transform(recipe.image_size, train, cutout=recipe.cutout, randaugment_ops=recipe.randaugment_ops,
                           randaugment_magnitude=recipe.randaugment_magnitude, mean_std=mean_std)
