"""Image input of the training engine: CSL-style transforms, a fault-tolerant dataset, loaders."""
from __future__ import annotations

from bench.training.images.loader import ImageBatch, image_loader, shard
from bench.training.images.rows import BadImages, ImageRows
from bench.training.images.transforms import NORMALIZATIONS, Cutout, image_transform

__all__ = ["BadImages", "Cutout", "ImageBatch", "ImageRows", "NORMALIZATIONS", "image_loader", "image_transform",
           "shard"]
