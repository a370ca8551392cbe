"""The CSL image transforms (docs/methods.md §6), built from torchvision.

Training: ``Resize((S, S))`` (bilinear "squish": the aspect ratio is not kept), ``Cutout(0.5)``,
RandAugment, ``ToTensor`` (values in [0, 1]). RandAugment is ``randaugment="official"`` (default):
the official code's ``randaugment`` pip package, 2 of 15 ops (Invert and Cutout included) each
applied with probability 0.5 at a random magnitude 1-9 of 10 (``bench.training.images.randaugment``);
or ``"torchvision"``: torchvision's ``RandAugment(num_ops, magnitude)`` (2 and 9 by default), both ops
always applied at a fixed magnitude, no Invert. Evaluation: resize and ``ToTensor`` only. No mean/std
normalisation, as the official code; ``normalize="imagenet"`` or ``"model"`` (the backbone's own
mean/std) adds ``Normalize``.

Every random draw uses torch's global generator, so a caller that seeds it per image (``ImageRows``)
gets the same augmentation whatever the number of loader workers.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from PIL import Image, ImageDraw
from torchvision import transforms

from bench.training.images.randaugment import OfficialRandAugment

RANDAUGMENTS = ("official", "torchvision")
NORMALIZATIONS = ("none", "imagenet", "model")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Cutout:
    """Paint one rectangle of a uniformly random RGB colour over the image (CSL's ``CutoutPIL``).

    The rectangle is ``round(factor * W)`` x ``round(factor * H)`` pixels, centred at a uniformly
    drawn pixel and clipped to the image, so it can be smaller near the borders. Applied to every
    image (probability 1).
    """

    def __init__(self, factor: float = 0.5):
        if not 0.0 < factor <= 1.0:
            raise ValueError(f"cutout factor must be in (0, 1]; got {factor}")
        self.factor = factor

    def __call__(self, image: Image.Image) -> Image.Image:
        width, height = image.size
        cut_w, cut_h = int(self.factor * width + 0.5), int(self.factor * height + 0.5)
        centre_x = int(torch.randint(width, ()))
        centre_y = int(torch.randint(height, ()))
        x1, x2 = max(centre_x - cut_w // 2, 0), min(centre_x + cut_w // 2, width)
        y1, y2 = max(centre_y - cut_h // 2, 0), min(centre_y + cut_h // 2, height)
        colour = tuple(int(c) for c in torch.randint(0, 256, (3,)))
        painted = image.copy()
        ImageDraw.Draw(painted).rectangle([x1, y1, x2, y2], fill=colour)
        return painted

    def __repr__(self) -> str:
        return f"Cutout(factor={self.factor})"


def normalization(normalize: str, model_mean: Sequence[float] | None = None,
                  model_std: Sequence[float] | None = None) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """(mean, std) of a normalisation choice, or None for ``"none"``."""
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {', '.join(NORMALIZATIONS)}; got '{normalize}'")
    if normalize == "none":
        return None
    if normalize == "imagenet":
        return IMAGENET_MEAN, IMAGENET_STD
    if model_mean is None or model_std is None:
        raise ValueError("normalize='model' needs the backbone's mean and std")
    return tuple(model_mean), tuple(model_std)


def image_transform(
    size: int,
    train: bool,
    *,
    cutout: float = 0.5,
    randaugment: str = "official",
    randaugment_ops: int = 2,
    randaugment_magnitude: int = 9,
    mean_std: tuple[Sequence[float], Sequence[float]] | None = None,
    hflip: float = 0.0,
) -> Callable[[Image.Image], torch.Tensor]:
    """PIL RGB image -> float32 (3, size, size) tensor (see the module docstring).

    ``cutout`` = 0 or ``randaugment_ops`` = 0 turns that augmentation off; ``randaugment`` is
    "official" (its 2 ops; ``randaugment_magnitude`` unused) or "torchvision"; ``mean_std`` comes from
    ``normalization``; ``hflip`` > 0 flips training images horizontally with that probability, after
    the resize (Large Loss Matters' and Cole et al.'s ``RandomHorizontalFlip``).
    """
    if randaugment not in RANDAUGMENTS:
        raise ValueError(f"randaugment must be one of {', '.join(RANDAUGMENTS)}; got '{randaugment}'")
    steps: list[Callable] = [transforms.Resize((size, size))]
    if train and hflip > 0:
        steps.append(transforms.RandomHorizontalFlip(hflip))
    if train and cutout > 0:
        steps.append(Cutout(cutout))
    if train and randaugment_ops > 0:
        steps.append(OfficialRandAugment() if randaugment == "official" else
                     transforms.RandAugment(num_ops=randaugment_ops, magnitude=randaugment_magnitude))
    steps.append(transforms.ToTensor())
    if mean_std is not None:
        steps.append(transforms.Normalize(*mean_std))
    return transforms.Compose(steps)
