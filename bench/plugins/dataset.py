"""The dataset contract.

A dataset plugin is a class registered with ``@register_dataset("name")`` that declares its
parameters (e.g. ``root``) and implements ``load() -> DatasetData``. Rows of each split are in the
dataset's reference order; labels are in our encoding (``bench.labels.encoding``), dense or sparse.
A fully labelled training split (only +-1) accepts the simulation protocols (rpa, fpc, ...); a
natively partial one (LVIS, OpenImages) is used as-is.

Declared attributes, each with its default on ``DatasetPlugin``: ``version`` ("1"), ``description``
(the class's own docstring's first line when it declares none), ``parameters`` ({}), ``modality`` ("features": each
split carries ``features``; "images": each split carries image paths), ``data_folder`` (None) and
``root_layout`` (""): a dataset read from a ``root`` folder names its conventional folder under
``$BENCH_DATA`` (e.g. ``"coco"``) and the files that folder must hold, so the engine can fill in a
missing ``root`` (``bench.runs.data_roots``) and say what is needed when it cannot; and
``split_sizes()`` ({}): the official split sizes when known without loading.

An image dataset subclasses ``ImageDataset`` and implements ``read() -> DatasetData`` instead of
``load``: the base class adds the image-check parameters (``check_images``, ``max_missing``,
``missing_list_dir``) to the declared ones and runs the checks on what ``read`` returns, once, for
every image dataset. ``image_size`` (None: the recipe's default, 448) is the square input size its
recipes use unless told otherwise.
"""
from __future__ import annotations

from typing import Any, ClassVar

from bench.core.params import Param, Parameterised
from bench.io.images import IMAGE_CHECK_PARAMS, check_dataset_images
from bench.labels.splits import DatasetData, Split

__all__ = ["DatasetData", "DatasetPlugin", "ImageDataset", "Split"]
MODALITIES = ("features", "images")


class DatasetPlugin(Parameterised):
    """Base class of every dataset plugin (see the module docstring)."""

    name: ClassVar[str] = "dataset"
    plugin_type: ClassVar[str] = "dataset"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    parameters: ClassVar[dict[str, Param]] = {}
    modality: ClassVar[str] = "features"
    is_default: ClassVar[bool] = False
    data_folder: ClassVar[str | None] = None
    root_layout: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.modality not in MODALITIES:
            raise TypeError(f"{cls.__qualname__}.modality must be one of {', '.join(MODALITIES)}; got {cls.modality!r}")

    def load(self) -> DatasetData:
        raise NotImplementedError

    def split_sizes(self) -> dict[str, int]:
        """The official split sizes ("train", "test": rows) when known without loading the data,
        e.g. from the release the plugin verifies against; {} when unknown. ``bench sweep
        --dry-run`` estimates a cell's GPU hours from them."""
        return {}


class ImageDataset(DatasetPlugin):
    """Base class of image dataset plugins: ``read()`` the splits, the base class checks the images."""

    modality: ClassVar[str] = "images"
    image_size: ClassVar[int | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.parameters = {**cls.parameters, **{k: v for k, v in IMAGE_CHECK_PARAMS.items() if k not in cls.parameters}}

    def read(self) -> DatasetData:
        """The dataset's splits with image paths, before the image checks."""
        raise NotImplementedError

    def load(self) -> DatasetData:
        """``read()``, then the image checks of the declared ``check_images`` / ``max_missing``."""
        return check_dataset_images(self.read(), self.check_images, self.max_missing, self.missing_list_dir)
