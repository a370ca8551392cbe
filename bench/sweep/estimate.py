"""``bench sweep --dry-run``'s cost estimate: GPU hours of a finetune cell from its recipe and data.

A cell of mode ``finetune`` on a dataset whose plugin knows its split sizes (``split_sizes()``)
processes, per epoch, its training rows once forward and backward and its monitored rows (the
validation carve, or the test split under ``select_on=test``) forward twice (raw and EMA weights),
then the test split forward once. With a forward pass costing ``FORWARD_COST`` (1/3) of a training
step, that is ``images = epochs * (train + 2 * FORWARD_COST * monitored) + FORWARD_COST * test``
training-step equivalents, and ``hours = images / images_per_s / 3600`` at the spec's assumed
throughput (``estimate: {images_per_s: ..., device: ...}``; measure yours with ``bench doctor``).
Cells of other modes, or on datasets of unknown size, have no estimate (None).
"""
from __future__ import annotations

from bench.runs.resolve import resolve_dataset
from bench.sweep.grid import Cell

FORWARD_COST = 1.0 / 3.0


def gpu_hours(cell: Cell, images_per_s: float | None) -> float | None:
    """The estimated GPU hours of ``cell`` (see the module docstring), or None."""
    run = cell.run
    if run.mode != "finetune" or not images_per_s:
        return None
    sizes = resolve_dataset(run.dataset).plugin.split_sizes()
    if "train" not in sizes:
        return None
    official = sizes["train"]
    val = int(round(run.val_fraction * official))
    monitored = sizes.get("test", 0) if run.select_on == "test" else (val if run.select_on == "val" else 0)
    steps = run.recipe.epochs * (official - val + 2 * FORWARD_COST * monitored) + FORWARD_COST * sizes.get("test", 0)
    return steps / images_per_s / 3600.0
