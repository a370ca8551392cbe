"""The training recipe of a run: ``Recipe`` (feature heads) and ``ImageRecipe`` (image backbones).

Every field is checked once, when the recipe is built (``__post_init__``), so a recipe that exists
is in range wherever it travels; the error names the field and the allowed values. ``epochs``,
``batch_size`` and ``hidden`` have sane maxima (``MAX_EPOCHS`` 100,000, ``MAX_BATCH_SIZE`` and
``MAX_HIDDEN`` 2**20); ``lr`` and ``weight_decay`` must be finite. Which fields a
run's configuration hash records is the mode's decision (``bench.runs.modes.Mode.prepare``).

``ImageRecipe`` defaults to CSL's train.py (docs/methods.md §6): backbone ``tresnet_m``, squish
resize to (S, S) with S the dataset plugin's ``image_size`` (``None`` here: decided by the run),
no mean/std normalisation, Cutout(0.5) + RandAugment(2, 9) on training images, Adam lr 2e-4 with
coupled L2 weight decay 1e-4 on weight matrices only, OneCycle (pct_start 0.2) per batch, EMA decay
0.9997, batch 64, 30 epochs, AMP (``auto``: bf16 where the GPU supports it, else fp16 with a
GradScaler; off on CPU) and channels_last on CUDA.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from bench.core.errors import InputError

HEAD_NAMES = ("linear", "mlp")
NORMALIZATIONS = ("none", "imagenet", "model")
AMP_MODES = ("auto", "bf16", "fp16", "off")
DEFAULT_IMAGE_SIZE = 448
MAX_EPOCHS = 100_000  # sane maxima: a larger value is a typo (or --set epochs=1e12), not a plan
MAX_BATCH_SIZE = 1 << 20
MAX_HIDDEN = 1 << 20


class RecipeError(InputError):
    """A recipe value out of range, or a field that does not apply to the run."""


def _check(rules: list[tuple[bool, str]]) -> None:
    for ok, message in rules:
        if not ok:
            raise RecipeError(message)


@dataclass(frozen=True)
class Recipe:
    """How a head is trained (Adam + one-cycle, see ``bench.training.trainer``)."""

    epochs: int = 30
    lr: float = 1e-3
    batch_size: int = 64
    weight_decay: float = 1e-4
    pct_start: float = 0.2
    head: str = "linear"
    hidden: int = 256

    def __post_init__(self) -> None:
        _check([
            (self.epochs >= 1, f"epochs must be >= 1; got {self.epochs}"),
            (self.epochs <= MAX_EPOCHS, f"epochs must be <= {MAX_EPOCHS}; got {self.epochs}"),
            (self.batch_size >= 1, f"batch_size must be >= 1; got {self.batch_size}"),
            (self.batch_size <= MAX_BATCH_SIZE, f"batch_size must be <= {MAX_BATCH_SIZE}; got {self.batch_size}"),
            (self.lr > 0 and math.isfinite(self.lr), f"lr must be > 0 and finite; got {self.lr}"),
            (self.weight_decay >= 0 and math.isfinite(self.weight_decay),
             f"weight_decay must be >= 0 and finite; got {self.weight_decay}"),
            (0.0 < self.pct_start < 1.0, f"pct_start must be in (0, 1); got {self.pct_start}"),
            (self.head in HEAD_NAMES, f"head must be one of {', '.join(HEAD_NAMES)}; got '{self.head}'"),
            (self.hidden >= 1, f"hidden must be >= 1; got {self.hidden}"),
            (self.hidden <= MAX_HIDDEN, f"hidden must be <= {MAX_HIDDEN}; got {self.hidden}"),
        ])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


BASE_FIELDS = tuple(f.name for f in fields(Recipe))


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

    def __post_init__(self) -> None:
        super().__post_init__()
        _check([
            (self.image_size is None or self.image_size >= 8, f"image_size must be >= 8; got {self.image_size}"),
            (self.normalize in NORMALIZATIONS,
             f"normalize must be one of {', '.join(NORMALIZATIONS)}; got '{self.normalize}'"),
            (0.0 <= self.cutout <= 1.0, f"cutout must be in [0, 1] (0 = off); got {self.cutout}"),
            (self.randaugment_ops >= 0, f"randaugment_ops must be >= 0 (0 = off); got {self.randaugment_ops}"),
            (0 <= self.randaugment_magnitude <= 30,
             f"randaugment_magnitude must be in [0, 30]; got {self.randaugment_magnitude}"),
            (0.0 <= self.ema_decay < 1.0, f"ema_decay must be in [0, 1) (0 = no EMA); got {self.ema_decay}"),
            (self.amp in AMP_MODES, f"amp must be one of {', '.join(AMP_MODES)}; got '{self.amp}'"),
        ])

    def base(self) -> Recipe:
        """The feature-head fields of this recipe as a plain ``Recipe``."""
        values = self.to_dict()
        return Recipe(**{k: values[k] for k in BASE_FIELDS})
