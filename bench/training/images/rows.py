"""A split's images as a torch ``Dataset`` that never raises on a bad image.

``ImageRows(paths, transform, seed)[i]`` is ``(tensor, i, error)``: the transformed image, its
position and ``""``; an image that cannot be opened or decoded (missing, truncated, not an image)
gives a blank (zero) tensor and the reason instead. The training loop drops such rows from the batch,
evaluation scores the blank image; both count and list them in ``BadImages``, which warns once per
image (``BadImageWarning``).

Augmentation randomness: before transforming image ``i`` in epoch ``e`` the global torch generator is
seeded (its state is restored afterwards, so the caller's draws are untouched) from ``SeedSequence((seed, e, i))``,
so an image's augmentation depends on (seed, epoch, position) only -- not on the number of loader
workers, the batch it lands in, or whether the run was resumed.
"""
from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

MAX_LISTED = 1000
DECODE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


class BadImageWarning(UserWarning):
    """An image could not be read; its row was skipped (training) or scored blank (evaluation)."""


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The 63-bit torch seed of image ``index`` in ``epoch`` of a run seeded ``seed``."""
    words = np.random.SeedSequence((seed, epoch, index)).generate_state(2, dtype=np.uint32)
    return (int(words[0]) << 31 | int(words[1]) >> 1) & (2**63 - 1)


class ImageRows(Dataset):
    """Images by position in ``paths`` (see the module docstring)."""

    def __init__(self, paths: Sequence[str], transform: Callable[[Image.Image], torch.Tensor], size: int,
                 seed: int = 0):
        self.paths = list(paths)
        self.transform = transform
        self.size = size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation draws of ``epoch`` (call before creating the epoch's loader)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, str]:
        generator = torch.default_generator  # what torchvision's random transforms draw from
        saved = generator.get_state()
        generator.manual_seed(sample_seed(self.seed, self.epoch, index))
        try:
            with Image.open(self.paths[index]) as image:
                rgb = image.convert("RGB")
            return self.transform(rgb), index, ""
        except DECODE_ERRORS as exc:
            reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            return torch.zeros(3, self.size, self.size), index, reason
        finally:
            generator.set_state(saved)


class BadImages:
    """Images of one split that could not be read: count, list (path -> reason), one warning each."""

    def __init__(self, split: str, paths: Sequence[str]):
        self.split = split
        self.paths = paths
        self.found: dict[str, str] = {}

    def note(self, positions: torch.Tensor, errors: Sequence[str]) -> torch.Tensor:
        """Record a batch's failures; return the boolean mask of its good rows."""
        good = torch.tensor([not e for e in errors], dtype=torch.bool)
        for position, error in zip(positions.tolist(), errors):
            path = self.paths[position]
            if error and path not in self.found:
                self.found[path] = error
                warnings.warn(f"{self.split} image {path} unreadable ({error}); "
                              f"{'skipped' if self.split == 'train' else 'scored as a blank image'}",
                              BadImageWarning, stacklevel=2)
        return good

    def merge(self, other: dict[str, str]) -> None:
        """Add failures found elsewhere (another process, an earlier attempt)."""
        for path, error in other.items():
            self.found.setdefault(path, error)

    def to_dict(self) -> dict[str, object]:
        """``count``, ``images`` (path -> reason, at most ``MAX_LISTED``) and ``truncated``."""
        listed = dict(sorted(self.found.items())[:MAX_LISTED])
        return {"count": len(self.found), "images": listed, "truncated": len(self.found) > MAX_LISTED}
