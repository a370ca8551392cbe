"""The RandAugment of the official CSL and ASL code: the ``randaugment`` pip package (1.0.2,
jizongFox/pytorch-randaugment), ``RandAugment()`` with its defaults, re-implemented draw for draw.

Semantics (``randaugment/randaugment.py``):

* an op is one of 15 transforms -- Invert, Cutout, Sharpness, AutoContrast, Posterize, ShearX,
  TranslateX, TranslateY, ShearY, Rotate, Equalize, Contrast, Color, Solarize, Brightness -- with a
  magnitude index 1..9 (out of 0..9) and probability 0.5; the 135 (op, index) pairs in that order;
* per image one policy, a pair of ops, is drawn uniformly from the 135**2 ordered pairs
  (``randint(0, 18224)``: op 1 is ``k // 135``, op 2 ``k % 135``), then each op is applied with
  probability 0.5 (``random() < 0.5``), op 1 first;
* magnitudes at index i: shear ``0.3 i/9``; translate ``(150/331) i/9`` of the width (height);
  rotate ``30 i/9`` degrees, always counter-clockwise (no random sign), corners filled grey 128;
  Color / Contrast / Sharpness / Brightness enhance by ``1 +- 0.9 i/9``; Posterize keeps
  ``round(8 - 4 i/9)`` bits; Solarize inverts above ``256 (1 - i/9)``; Cutout paints one square of
  side ``2 * (round(20 i/9) // 2)`` (clipped at the borders) with (125, 122, 113);
* shear uses bicubic resampling, translate nearest, both fill (128, 128, 128); the sign of shear,
  translate and the enhancements is ``choice([-1, 1])``, drawn only when the op is applied.

The package draws from Python's ``random`` (and NumPy's for Cutout's centre); here every draw goes
through a ``RandomSource`` in the same order, by default torch's global generator, so a caller that
seeds it per image (``ImageRows``) gets the same augmentation whatever the number of loader workers.
With a source that forwards to ``random`` and ``numpy.random`` the output equals the package's,
pixel for pixel (tests/training/test_randaugment_official.py). The package itself no longer imports
on NumPy >= 1.24 (it uses ``np.int``), hence the copy.
"""
from __future__ import annotations

from typing import Callable, Protocol, Sequence

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageOps

OPS = ("Invert", "Cutout", "Sharpness", "AutoContrast", "Posterize", "ShearX", "TranslateX", "TranslateY",
       "ShearY", "Rotate", "Equalize", "Contrast", "Color", "Solarize", "Brightness")
MAGNITUDE_INDICES = range(1, 10)
OP_PROBABILITY = 0.5
FILL = (128, 128, 128)
CUTOUT_COLOUR = (125, 122, 113)
RANGES = {
    "shearx": np.linspace(0, 0.3, 10), "sheary": np.linspace(0, 0.3, 10),
    "translatex": np.linspace(0, 150 / 331, 10), "translatey": np.linspace(0, 150 / 331, 10),
    "rotate": np.linspace(0, 30, 10), "color": np.linspace(0.0, 0.9, 10),
    "posterize": np.round(np.linspace(8, 4, 10), 0).astype(int), "solarize": np.linspace(256, 0, 10),
    "contrast": np.linspace(0.0, 0.9, 10), "sharpness": np.linspace(0.0, 0.9, 10),
    "brightness": np.linspace(0.0, 0.9, 10), "autocontrast": [0] * 10, "equalize": [0] * 10,
    "invert": [0] * 10, "cutout": np.round(np.linspace(0, 20, 10), 0).astype(int),
}


class RandomSource(Protocol):
    """The draws the package makes: ``random.randint``/``random``/``choice`` and ``np.random.randint``."""

    def randint(self, a: int, b: int) -> int: ...  # a <= n <= b

    def random(self) -> float: ...  # [0, 1)

    def choice(self, seq: Sequence[int]) -> int: ...

    def np_randint(self, low: int, high: int) -> int: ...  # low <= n < high


class TorchSource:
    """Every draw from torch's global generator."""

    def randint(self, a: int, b: int) -> int:
        return a + int(torch.randint(b - a + 1, ()))

    def random(self) -> float:
        return float(torch.rand((), dtype=torch.float64))

    def choice(self, seq: Sequence[int]) -> int:
        return seq[int(torch.randint(len(seq), ()))]

    def np_randint(self, low: int, high: int) -> int:
        return low + int(torch.randint(high - low, ()))


def _affine(image: Image.Image, data: tuple[float, ...], resample: int | None = None) -> Image.Image:
    if resample is None:
        return image.transform(image.size, Image.AFFINE, data, fillcolor=FILL)
    return image.transform(image.size, Image.AFFINE, data, resample, fillcolor=FILL)


def _rotate(image: Image.Image, degrees: float) -> Image.Image:
    rotated = image.convert("RGBA").rotate(degrees)
    return Image.composite(rotated, Image.new("RGBA", rotated.size, (128,) * 4), rotated).convert(image.mode)


def _cutout(image: Image.Image, size: int, source: RandomSource) -> Image.Image:
    painted = image.copy()
    width, height = image.size
    x, y = source.np_randint(0, width), source.np_randint(0, height)
    half = int(size) // 2
    x1, y1, x2, y2 = max(0, x - half), max(0, y - half), min(width, x + half), min(height, y + half)
    painted.paste(CUTOUT_COLOUR, (x1, y1, x2, y2))
    return painted


def _signed(source: RandomSource, magnitude: float) -> float:
    return magnitude * source.choice([-1, 1])


OPERATIONS: dict[str, Callable[[Image.Image, float, RandomSource], Image.Image]] = {
    "shearx": lambda im, m, s: _affine(im, (1, _signed(s, m), 0, 0, 1, 0), Image.BICUBIC),
    "sheary": lambda im, m, s: _affine(im, (1, 0, 0, _signed(s, m), 1, 0), Image.BICUBIC),
    "translatex": lambda im, m, s: _affine(im, (1, 0, _signed(s, m * im.size[0]), 0, 1, 0)),
    "translatey": lambda im, m, s: _affine(im, (1, 0, 0, 0, 1, _signed(s, m * im.size[1]))),
    "rotate": lambda im, m, s: _rotate(im, m),
    "color": lambda im, m, s: ImageEnhance.Color(im).enhance(1 + _signed(s, m)),
    "posterize": lambda im, m, s: ImageOps.posterize(im, int(m)),
    "solarize": lambda im, m, s: ImageOps.solarize(im, m),
    "contrast": lambda im, m, s: ImageEnhance.Contrast(im).enhance(1 + _signed(s, m)),
    "sharpness": lambda im, m, s: ImageEnhance.Sharpness(im).enhance(1 + _signed(s, m)),
    "brightness": lambda im, m, s: ImageEnhance.Brightness(im).enhance(1 + _signed(s, m)),
    "autocontrast": lambda im, m, s: ImageOps.autocontrast(im),
    "equalize": lambda im, m, s: ImageOps.equalize(im),
    "invert": lambda im, m, s: ImageOps.invert(im),
    "cutout": lambda im, m, s: _cutout(im, m, s),
}
OP_LIST = tuple((op, index) for op in OPS for index in MAGNITUDE_INDICES)


def apply_op(image: Image.Image, op: str, index: int, source: RandomSource) -> Image.Image:
    """``op`` at magnitude index ``index`` (0..9) on ``image``, unconditionally."""
    key = op.lower()
    return OPERATIONS[key](image, RANGES[key][index], source)


class OfficialRandAugment:
    """``randaugment.RandAugment()`` (see the module docstring); ``source`` defaults to ``TorchSource``."""

    def __init__(self, source: RandomSource | None = None):
        self.source = source if source is not None else TorchSource()

    def __call__(self, image: Image.Image) -> Image.Image:
        k = self.source.randint(0, len(OP_LIST) ** 2 - 1)
        for op, index in (OP_LIST[k // len(OP_LIST)], OP_LIST[k % len(OP_LIST)]):
            if self.source.random() < OP_PROBABILITY:
                image = apply_op(image, op, index, self.source)
        return image

    def __repr__(self) -> str:
        return "OfficialRandAugment(randaugment==1.0.2: 2 of 15 ops, p 0.5 each, magnitude 1-9 of 10)"
