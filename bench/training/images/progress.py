"""The progress of image training (rich, on stderr): a bar over the run's steps with the epoch, the
running loss, images/s and the monitored mAP(C), and one line per finished epoch that stays on the
screen, e.g. ``epoch 3/30  loss 41.2  val mAP(C) raw 52.31, ema 50.07  812.4 images/s  9.8 s``."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class EpochBar:
    """A rich task counting steps; ``enabled=False`` draws nothing."""

    def __init__(self, progress: Progress, epochs: int, steps_per_epoch: int, first_epoch: int, enabled: bool = True):
        self.progress, self.epochs, self.steps_per_epoch, self.enabled = progress, epochs, steps_per_epoch, enabled
        self.epoch = first_epoch
        self.task = progress.add_task("train", total=epochs * steps_per_epoch,
                                      completed=(first_epoch - 1) * steps_per_epoch,
                                      epoch=f"{first_epoch}/{epochs}", loss=float("nan"), speed=0.0, metric="-")

    def advance(self, images_per_s: float, loss: float) -> None:
        """One step done at ``images_per_s`` (this epoch so far)."""
        self.progress.update(self.task, advance=1, speed=images_per_s, loss=loss)

    def show_metric(self, record: dict[str, Any]) -> None:
        """Show the monitored mAP(C) values of an epoch's record, print the epoch's line and move to
        the next epoch."""
        values = [f"{k.rsplit('_', 1)[-1]} {v:.2f}" for k, v in record.items() if "_map_c_" in k]
        split = next((k.split("_map_c_")[0] for k in record if "_map_c_" in k), None)
        self.epoch = record["epoch"] + 1
        self.progress.update(self.task, metric=", ".join(values) or "-",
                             epoch=f"{min(self.epoch, self.epochs)}/{self.epochs}")
        if self.enabled:
            metric = f"  {split} mAP(C) {', '.join(values)}" if split else ""
            self.progress.console.print(
                f"epoch {record['epoch']}/{self.epochs}  loss {record['loss']:.4g}{metric}  "
                f"{record.get('images_per_s', 0.0):.1f} images/s  {record.get('seconds', 0.0):.1f} s",
                markup=False, highlight=False)


@contextmanager
def epoch_progress(enabled: bool, epochs: int, steps_per_epoch: int, first_epoch: int = 1) -> Iterator[EpochBar]:
    """A step progress bar over the whole run, starting at ``first_epoch`` (resumed runs)."""
    progress = Progress(
        TextColumn("epoch {task.fields[epoch]}"), BarColumn(),
        TextColumn("loss {task.fields[loss]:.4g}  {task.fields[speed]:.1f} images/s  mAP(C) {task.fields[metric]}"),
        TimeElapsedColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), disable=not enabled, transient=True,
    )
    with progress:
        yield EpochBar(progress, epochs, steps_per_epoch, first_epoch, enabled)
