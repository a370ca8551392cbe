"""The training recipe of a run: ``Recipe`` (feature heads) and ``ImageRecipe`` (image backbones).

Every field is checked once, when the recipe is built (``__post_init__``), so a recipe that exists
is in range wherever it travels; the error names the field and the allowed values. ``epochs``,
``batch_size`` and ``hidden`` have sane maxima (``MAX_EPOCHS`` 100,000, ``MAX_BATCH_SIZE`` and
``MAX_HIDDEN`` 2**20); ``lr`` and ``weight_decay`` must be finite. Which fields a
run's configuration hash records is the mode's decision (``bench.runs.modes.Mode.prepare``).

``ImageRecipe`` defaults to CSL's train.py (docs/methods.md §6): backbone ``tresnet_m``, squish
resize to (S, S) with S the dataset plugin's ``image_size`` (``None`` here: decided by the run),
no mean/std normalisation, Cutout(0.5) + the official RandAugment on training images, Adam lr 2e-4 with
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
SCHEDULES = ("onecycle", "plateau")
MAX_LR_DROPS = 10
MAX_GRID = 16
MAX_STEPS = 1 << 30
GRID_FIELDS = ("lr_grid", "weight_decay_grid")
SCALE_FIELDS = ("epoch_steps", "grid_screen_rows")  # a configuration leaves them out at 0 (the former behaviour)


class RecipeError(InputError):
    """A recipe value out of range, or a field that does not apply to the run."""


def _check(rules: list[tuple[bool, str]]) -> None:
    for ok, message in rules:
        if not ok:
            raise RecipeError(message)


@dataclass(frozen=True)
class Recipe:
    """How a head is trained (Adam, see ``bench.training.trainer``).

    ``schedule``: ``onecycle`` (a fixed budget of ``epochs`` under OneCycleLR; the default here and
    the finetune loop's only one) or ``plateau`` (train to convergence, ``bench.training.convergence``:
    constant lr dropped 10x after ``patience`` epochs without a 1% lower training loss, stop after
    ``lr_drops`` drops or ``early_stopping`` epochs after the best validation mAP(C); ``epochs`` is
    the cap). With a validation split every (lr, weight_decay) of ``lr_grid`` x
    ``weight_decay_grid`` is tried (an empty grid: ``lr`` / ``weight_decay`` alone) and the best on
    validation gives the model; without one, ``lr`` and ``weight_decay`` train alone, so a grid
    must hold them.

    Large data (feature heads): with ``epoch_steps`` > 0 an epoch is at most that many steps, the
    batches coming from one permutation of the rows that continues across epochs, so the loss
    rule, early stopping and the monitor act every ``epoch_steps`` steps rather than once per pass
    (0, or a value >= the steps of one pass: an epoch is one pass); ``epochs`` and every method
    schedule in epochs (``TrainState.epoch``, ``num_epochs``, ``on_epoch_start``) then count such
    epochs. With ``grid_screen_rows`` > 0
    and more training rows than that, the grid is screened: every candidate trains one epoch and
    only the best on validation trains on (the selection says so).
    """

    epochs: int = 30
    lr: float = 1e-3
    batch_size: int = 64
    weight_decay: float = 1e-4
    pct_start: float = 0.2
    head: str = "linear"
    hidden: int = 256
    schedule: str = "onecycle"
    patience: int = 3
    lr_drops: int = 2
    early_stopping: int = 15
    lr_grid: tuple[float, ...] = ()
    weight_decay_grid: tuple[float, ...] = ()
    epoch_steps: int = 0
    grid_screen_rows: int = 0

    def __post_init__(self) -> None:
        for name in GRID_FIELDS:  # a list from YAML / JSON becomes the canonical tuple of floats
            object.__setattr__(self, name, _grid(name, getattr(self, name)))
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
            (self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}; got '{self.schedule}'"),
            (1 <= self.patience <= MAX_EPOCHS, f"patience must be in [1, {MAX_EPOCHS}] epochs; got {self.patience}"),
            (0 <= self.lr_drops <= MAX_LR_DROPS, f"lr_drops must be in [0, {MAX_LR_DROPS}]; got {self.lr_drops}"),
            (0 <= self.early_stopping <= MAX_EPOCHS,
             f"early_stopping must be in [0, {MAX_EPOCHS}] epochs (0 = off); got {self.early_stopping}"),
            (0 <= self.epoch_steps <= MAX_STEPS, f"epoch_steps must be in [0, {MAX_STEPS}] (0 = a pass); "
             f"got {self.epoch_steps}"),
            (self.grid_screen_rows >= 0,
             f"grid_screen_rows must be >= 0 (0 = the whole grid trains); got {self.grid_screen_rows}"),
            (all(v > 0 and math.isfinite(v) for v in self.lr_grid),
             f"lr_grid values must be > 0 and finite; got {list(self.lr_grid)}"),
            (all(v >= 0 and math.isfinite(v) for v in self.weight_decay_grid),
             f"weight_decay_grid values must be >= 0 and finite; got {list(self.weight_decay_grid)}"),
            (not self.lr_grid or self.lr in self.lr_grid,
             f"lr_grid {list(self.lr_grid)} must hold lr {self.lr:g} (the value used without a validation split); "
             "set both"),
            (not self.weight_decay_grid or self.weight_decay in self.weight_decay_grid,
             f"weight_decay_grid {list(self.weight_decay_grid)} must hold weight_decay {self.weight_decay:g} "
             "(the value used without a validation split); set both"),
        ])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def candidates(self) -> list[tuple[float, float]]:
        """The (lr, weight_decay) pairs a run with a validation split tries: the product of the
        grids, lr-major, an empty grid standing for the recipe's own value."""
        return [(lr, wd) for lr in self.lr_grid or (self.lr,) for wd in self.weight_decay_grid or (self.weight_decay,)]


def _grid(name: str, values: Any) -> tuple[float, ...]:
    """``values`` (a sequence of numbers) as a tuple of floats; ``RecipeError`` naming ``name``."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise RecipeError(f"{name} must be a list of numbers; got {values!r}")
    values = tuple(values)
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
        raise RecipeError(f"{name} must be a list of numbers; got {list(values)!r}")
    if len(values) > MAX_GRID or len(set(values)) != len(values):
        raise RecipeError(f"{name} must hold at most {MAX_GRID} distinct values; got {list(values)}")
    return tuple(float(v) for v in values)


BASE_FIELDS = tuple(f.name for f in fields(Recipe))


RANDAUGMENTS = ("official", "torchvision")
CLASSIFIERS = ("linear", "bottleneck")
OFFICIAL_RANDAUGMENT_OPS = 2
LR_SCHEDULES = ("onecycle", "constant")


@dataclass(frozen=True)
class ImageRecipe(Recipe):
    """Every field of a run on images (see the module docstring); ``image_size`` None = automatic.

    ``randaugment``: "official" (the ``randaugment`` package of the official code: 2 of 15 ops, each
    with probability 0.5 at a random magnitude 1-9; ``randaugment_ops`` 2, or 0 = off, and
    ``randaugment_magnitude`` unused) or "torchvision" (``RandAugment(randaugment_ops,
    randaugment_magnitude)``). ``classifier``: "linear" (the backbone's own classifier) or
    "bottleneck" (the official helper functions' OpenImages head: Linear(F, ``bottleneck_dim``) then
    Linear(``bottleneck_dim``, C), no activation; ``bench.training.heads.BottleneckHead``).

    Fields the Large Loss Matters / Cole et al. / Hill recipes need (``bench.training.finetune.optim``):
    ``lr_schedule`` "onecycle" (``OneCycleLR(max_lr=lr, pct_start)`` per batch) or "constant" (no
    scheduler: Adam at ``lr`` throughout, as LL's and Cole's train.py); ``schedule_epochs`` the
    epochs OneCycle is planned over when training stops earlier (Hill: planned over 80, ``epochs``
    31; None = ``epochs``); ``classifier_lr_mult`` the classifier's lr = ``classifier_lr_mult`` x lr
    (LL's ``lr_mult`` 10; 1 = one lr); ``hflip`` the probability of a horizontal flip of training
    images (0 = off; LL and Cole 0.5); ``stop_below_best`` stop training once the monitored mAP(C)
    falls more than this many points below the best epoch's (LL: 3; None = off).
    """

    lr: float = 2e-4
    backbone: str = "tresnet_m"
    pretrained: str | None = None
    image_size: int | None = None
    normalize: str = "none"
    cutout: float = 0.5
    randaugment: str = "official"
    randaugment_ops: int = 2
    randaugment_magnitude: int = 9
    classifier: str = "linear"
    bottleneck_dim: int = 512
    ema_decay: float = 0.9997
    amp: str = "auto"
    channels_last: bool = True
    deterministic: bool = False
    lr_schedule: str = "onecycle"
    schedule_epochs: int | None = None
    classifier_lr_mult: float = 1.0
    hflip: float = 0.0
    stop_below_best: float | None = None

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
            (self.randaugment in RANDAUGMENTS,
             f"randaugment must be one of {', '.join(RANDAUGMENTS)}; got '{self.randaugment}'"),
            (self.randaugment != "official" or self.randaugment_ops in (0, OFFICIAL_RANDAUGMENT_OPS),
             f"randaugment 'official' applies {OFFICIAL_RANDAUGMENT_OPS} ops (randaugment_ops "
             f"{OFFICIAL_RANDAUGMENT_OPS}, or 0 = off); got randaugment_ops {self.randaugment_ops}"),
            (self.randaugment != "official" or self.randaugment_magnitude == 9,
             "randaugment_magnitude applies to randaugment 'torchvision' only ('official' draws a magnitude "
             f"1-9 per op); got {self.randaugment_magnitude}"),
            (self.classifier in CLASSIFIERS,
             f"classifier must be one of {', '.join(CLASSIFIERS)}; got '{self.classifier}'"),
            (1 <= self.bottleneck_dim <= MAX_HIDDEN,
             f"bottleneck_dim must be in [1, {MAX_HIDDEN}]; got {self.bottleneck_dim}"),
            (0.0 <= self.ema_decay < 1.0, f"ema_decay must be in [0, 1) (0 = no EMA); got {self.ema_decay}"),
            (self.amp in AMP_MODES, f"amp must be one of {', '.join(AMP_MODES)}; got '{self.amp}'"),
            (self.lr_schedule in LR_SCHEDULES,
             f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}; got '{self.lr_schedule}'"),
            (self.schedule_epochs is None or self.lr_schedule == "onecycle",
             f"schedule_epochs applies to lr_schedule 'onecycle' only; got lr_schedule '{self.lr_schedule}'"),
            (self.schedule_epochs is None or self.epochs <= self.schedule_epochs <= MAX_EPOCHS,
             f"schedule_epochs must be in [epochs ({self.epochs}), {MAX_EPOCHS}] (None = epochs); "
             f"got {self.schedule_epochs}"),
            (self.classifier_lr_mult > 0 and math.isfinite(self.classifier_lr_mult),
             f"classifier_lr_mult must be > 0 and finite; got {self.classifier_lr_mult}"),
            (0.0 <= self.hflip <= 1.0, f"hflip must be a probability in [0, 1] (0 = off); got {self.hflip}"),
            (self.stop_below_best is None or (self.stop_below_best >= 0 and math.isfinite(self.stop_below_best)),
             f"stop_below_best must be >= 0 and finite mAP points (None = off); got {self.stop_below_best}"),
        ])

    def base(self) -> Recipe:
        """The feature-head fields of this recipe as a plain ``Recipe``."""
        values = self.to_dict()
        return Recipe(**{k: values[k] for k in BASE_FIELDS})
