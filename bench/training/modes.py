"""The shipped training modes, registered with the runner through the ``bench.modes`` entry points
(``pyproject.toml``): ``linear`` and ``finetune``. Each checks the dataset and completes the recipe
(``prepare``) and trains (``run``).

* ``linear``: a head on a feature dataset's features, or on an image dataset's cached frozen
  backbone features (``bench.training.linear_images``). On features the configuration records the
  ``Recipe`` fields, the convergence ones included (``schedule``, ``lr_grid``,
  ``weight_decay_grid``; ``patience``, ``lr_drops`` and ``early_stopping`` only under ``plateau``,
  where they apply); on images also what shapes the features (backbone, weights identity, image
  size, normalisation).
* ``finetune``: an image backbone trained end to end (``bench.training.finetune.mode``). The
  configuration records every ``ImageRecipe`` field but the feature-head ones (head, hidden, and
  the convergence fields, which it refuses when set: its loop runs a fixed budget, ``lr_schedule``), the
  weights file's path (its sha256 is recorded instead) and ``deterministic``; also without
  ``randaugment_magnitude`` under ``randaugment: official`` and ``bottleneck_dim`` under
  ``classifier: linear`` (unused there). The schedule and stopping fields are recorded where they
  apply and differ from the behaviour before they existed (so earlier hashes stand):
  ``lr_schedule`` only when ``constant`` (then without ``pct_start``), ``schedule_epochs`` only when
  it exceeds ``epochs``, ``classifier_lr_mult`` only when not 1, ``hflip`` only when > 0 and
  ``stop_below_best`` only when set.

In both, ``hidden`` is recorded only for the ``mlp`` head and ``pretrained`` as the identity of its
weights (``{"source": "file", "sha256": ...}``), never as a path. An image recipe's automatic
``image_size`` becomes the dataset plugin's ``image_size`` (e.g. 64 for coco-mini, 224 for
OpenImages as in CSL), else 448.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bench.runs.modes import ConfigError
from bench.runs.recipe import BASE_FIELDS, DEFAULT_IMAGE_SIZE, SCALE_FIELDS, ImageRecipe, Recipe, RecipeError

if TYPE_CHECKING:
    from bench.runs.config import ResolvedRun
    from bench.runs.resolve import PreparedDataset
    from bench.runs.result import RunResult
    from bench.store import Store

FEATURE_FIELDS = ("backbone", "image_size", "normalize")
CONVERGENCE_FIELDS = ("schedule", "patience", "lr_drops", "early_stopping", "lr_grid", "weight_decay_grid",
                      "epoch_steps", "grid_screen_rows")
PLATEAU_ONLY = ("patience", "lr_drops", "early_stopping")
NOT_HASHED_BY_FINETUNE = ("head", "hidden", "pretrained", "deterministic", *CONVERGENCE_FIELDS)


def _image_recipe(recipe: Recipe, mode: str, dataset_class: type) -> tuple[ImageRecipe, dict[str, Any]]:
    """The checked image recipe with its image size, and the weights' identity."""
    from bench.training.backbones import check_backbone_name, weights_identity  # timm: image runs only

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


def _without_unused_plateau(config: dict[str, Any]) -> dict[str, Any]:
    """The feature-head configuration without ``patience`` / ``lr_drops`` under ``onecycle`` (unused
    there), and without ``epoch_steps`` / ``grid_screen_rows`` at 0 (so the hashes of runs from before
    they existed stay)."""
    if config.get("schedule") != "plateau":
        for name in PLATEAU_ONLY:
            config.pop(name, None)
    for name in SCALE_FIELDS:
        if config.get(name) == 0:
            config.pop(name, None)
    return config


def _check_no_convergence_fields(recipe: Recipe) -> None:
    """``RecipeError`` naming the first convergence field (feature heads only) set on a finetune recipe."""
    defaults = Recipe()
    for name in CONVERGENCE_FIELDS:
        if getattr(recipe, name) != getattr(defaults, name):
            raise RecipeError(f"recipe field '{name}' applies to feature heads (mode linear) only; "
                              "mode 'finetune' trains a fixed budget under lr_schedule (onecycle or constant)")


def _without_unused_image_fields(config: dict[str, Any]) -> dict[str, Any]:
    """Without ``randaugment_magnitude`` under the official RandAugment (it draws its own), without
    ``bottleneck_dim`` under the linear classifier, without ``pct_start`` under a constant lr, and
    without the schedule and stopping fields where they keep the former behaviour (see the module
    docstring)."""
    if config.get("randaugment") == "official":
        config.pop("randaugment_magnitude", None)
    if config.get("classifier") != "bottleneck":
        config.pop("bottleneck_dim", None)
    if config.get("lr_schedule") == "constant":
        config.pop("pct_start", None)
    unused = {"lr_schedule": config.get("lr_schedule") == "onecycle",
              "schedule_epochs": config.get("schedule_epochs") in (None, config.get("epochs")),
              "classifier_lr_mult": config.get("classifier_lr_mult") == 1.0,
              "hflip": config.get("hflip") == 0.0, "stop_below_best": config.get("stop_below_best") is None}
    return {k: v for k, v in config.items() if not unused.get(k, False)}


class LinearMode:
    """A head on features (see the module docstring)."""

    name = "linear"
    default_recipe = "linear"

    def prepare(self, recipe: Recipe, dataset_class: type) -> tuple[Recipe, dict[str, Any]]:
        values = recipe.to_dict()
        if dataset_class.modality == "features":
            if isinstance(recipe, ImageRecipe) and recipe != ImageRecipe(**{k: values[k] for k in BASE_FIELDS}):
                raise RecipeError("backbone, image and fine-tuning fields apply to image datasets only")
            return recipe, _without_unused_plateau(_without_unused_hidden({k: values[k] for k in BASE_FIELDS}))
        recipe, weights = _image_recipe(recipe, self.name, dataset_class)
        values = recipe.to_dict()
        config = _without_unused_hidden({k: values[k] for k in (*BASE_FIELDS, *FEATURE_FIELDS)})
        config = _without_unused_plateau(config)
        return recipe, {**config, "weights": weights}

    def run(self, resolved: ResolvedRun, prepared: PreparedDataset, store: Store,
            progress: bool | None) -> RunResult:
        from bench.training.linear_images import run_linear_any

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
        _check_no_convergence_fields(recipe)
        config = {k: v for k, v in recipe.to_dict().items() if k not in NOT_HASHED_BY_FINETUNE}
        return recipe, {**_without_unused_image_fields(_without_unused_hidden(config)), "weights": weights}

    def run(self, resolved: ResolvedRun, prepared: PreparedDataset, store: Store,
            progress: bool | None) -> RunResult | None:
        from bench.training.finetune.mode import run_finetune  # timm, torchvision: image runs only

        return run_finetune(resolved, prepared, store, progress)


LINEAR = LinearMode()
FINETUNE = FinetuneMode()
