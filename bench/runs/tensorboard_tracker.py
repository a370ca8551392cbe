"""``--log tensorboard``: TensorBoard event files in ``<store folder>/runs/<run id>/tensorboard``.

Scalars are tagged ``<prefix><scope>/<name>`` (``step/loss``, ``epoch/val_map_c``,
``candidate1/epoch/loss``, ...; see ``bench.runs.tracking``), the final test metrics
``final/<name>`` at step 0; the configuration and the selection are text summaries (JSON). Written
with ``torch.utils.tensorboard.SummaryWriter`` (needs the ``tensorboard`` package).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.runs.tracking import Tracker, TrackingTarget, is_scalar, run_folder


def _json_block(value: Any) -> str:
    """``value`` as an indented JSON code block (TensorBoard renders text summaries as Markdown)."""
    return "```json\n" + json.dumps(value, indent=2, sort_keys=True, default=str) + "\n```"


class TensorBoardTracker(Tracker):
    """One ``SummaryWriter`` on ``folder``."""

    name = "tensorboard"

    def __init__(self, folder: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.folder = folder
        self.writer = SummaryWriter(log_dir=str(folder))

    def log_config(self, config: dict[str, Any]) -> None:
        self.writer.add_text("config", _json_block(config), 0)

    def log_metrics(self, values: dict[str, float], step: int, scope: str = "step", prefix: str = "") -> None:
        for name, value in values.items():
            self.writer.add_scalar(f"{prefix}{scope}/{name}", float(value), step)

    def log_final(self, metrics: dict[str, Any], selection: dict[str, Any]) -> None:
        for name, value in metrics.items():
            if is_scalar(value) and not math.isinf(value):
                self.writer.add_scalar(f"final/{name}", float(value), 0)
        self.writer.add_text("selection", _json_block(selection), 0)

    def close(self, status: str) -> None:
        self.writer.add_text("status", status, 0)
        self.writer.close()

    def describe(self) -> dict[str, Any]:
        return {"path": str(self.folder)}


def open_tracker(target: TrackingTarget) -> TensorBoardTracker:
    """The tracker of ``target``'s run folder."""
    return TensorBoardTracker(run_folder(target.store_path, target.run_id) / "tensorboard")
