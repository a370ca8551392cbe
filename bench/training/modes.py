"""The shipped training modes, registered with the runner through the ``bench.modes`` entry points
(``pyproject.toml``): ``linear`` and ``finetune``. Each checks the dataset and completes the recipe
(``prepare``) and trains (``run``).

* ``linear``: a head on a feature dataset's features, or on an image dataset's cached frozen
  backbone features (``bench.training.linear_images``). On features the configuration records the
  ``Recipe`` fields; on images also what shapes the features (backbone, weights identity, image
  size, normalisation).
* ``finetune``: an image backbone trained end to end (``bench.training.finetune.mode``). The
  configuration records every ``ImageRecipe`` field but the feature-head ones (head, hidden), the
  weights file's path (its sha256 is recorded instead) and ``deterministic``.

In both, ``hidden`` is recorded only for the ``mlp`` head and ``pretrained`` as the identity of its
weights (``{"source": "file", "sha256": ...}``), never as a path. An image recipe's automatic
``image_size`` becomes the dataset plugin's ``image_size`` (e.g. 64 for coco-mini, 224 for
OpenImages as in CSL), else 448.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bench.runs.modes import ConfigError
from bench.runs.recipe import BASE_FIELDS, DEFAULT_IMAGE_SIZE, ImageRecipe, Recipe, RecipeError
from bench.training.backbones import check_backbone_name, weights_identity
from bench.training.finetune.mode import run_finetune
from bench.training.linear_images import run_linear_any

if TYPE_CHECKING:
    from bench.runs.config import ResolvedRun
    from bench.runs.resolve import PreparedDataset
    from bench.runs.result import RunResult
    from bench.store import Store

FEATURE_FIELDS = ("backbone", "image_size", "normalize")
NOT_HASHED_BY_FINETUNE = ("head", "hidden", "pretrained", "deterministic")


def _image_recipe(recipe: Recipe, mode: str, dataset_class: type) -> tuple[ImageRecipe, dict[str, Any]]:
    """The checked image recipe with its image size, and the weights' identity."""
    if not isinstance(recipe, ImageRecipe):
        raise RecipeError(f"mode '{mode}' on an image dataset needs an image recipe (backbone, image size, ...)")
    check_backbone_name(recipe.backbone)
    if recipe.image_size is None:
        recipe = replace(recipe, image_size=int(dataset_class.image_size or DEFAULT_IMAGE_SIZE))
    return recipe, weights_identity(recipe.pretrained)


def _without_unused_hidden(config: dict[str, Any]) -> dict[str, Any]:
    if config.get("head") != "mlp":
        config.pop("hidden", None)
    return config


class LinearMode:
    """A head on features (see the module docstring)."""

    name = "linear"
    default_recipe = "linear"

    def prepare(self, recipe: Recipe, dataset_class: type) -> tuple[Recipe, dict[str, Any]]:
        values = recipe.to_dict()
        if dataset_class.modality == "features":
            if isinstance(recipe, ImageRecipe) and recipe != ImageRecipe(**{k: values[k] for k in BASE_FIELDS}):
                raise RecipeError("backbone, image and fine-tuning fields apply to image datasets only")
            return recipe, _without_unused_hidden({k: values[k] for k in BASE_FIELDS})
        recipe, weights = _image_recipe(recipe, self.name, dataset_class)
        values = recipe.to_dict()
        config = _without_unused_hidden({k: values[k] for k in (*BASE_FIELDS, *FEATURE_FIELDS)})
        return recipe, {**config, "weights": weights}

    def run(self, resolved: ResolvedRun, prepared: PreparedDataset, store: Store,
            progress: bool | None) -> RunResult:
        return run_linear_any(resolved, prepared, store, progress)


class FinetuneMode:
    """An image backbone end to end (see the module docstring)."""

    name = "finetune"
    default_recipe = "csl"

    def prepare(self, recipe: Recipe, dataset_class: type) -> tuple[Recipe, dict[str, Any]]:
        if dataset_class.modality != "images":
            raise ConfigError(f"mode 'finetune' trains image backbones; dataset '{dataset_class.name}' has "
                              "features (use --mode linear)")
        recipe, weights = _image_recipe(recipe, self.name, dataset_class)
        config = {k: v for k, v in recipe.to_dict().items() if k not in NOT_HASHED_BY_FINETUNE}
        return recipe, {**_without_unused_hidden(config), "weights": weights}

    def run(self, resolved: ResolvedRun, prepared: PreparedDataset, store: Store,
            progress: bool | None) -> RunResult | None:
        return run_finetune(resolved, prepared, store, progress)


LINEAR = LinearMode()
FINETUNE = FinetuneMode()
