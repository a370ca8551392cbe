"""Model selection of finetune runs over (epoch, variant), variant = raw or EMA weights.

After every epoch the monitored split is scored with each variant; ``Selection.consider`` keeps the
first (epoch, variant) with the highest finite mAP(C) (partial evaluator, 0-100): the earliest
epoch wins a tie, and raw wins a tie with EMA in the same epoch. The official CSL code keeps
max(regular, EMA) per epoch the same way (on its test set; here on the validation split unless
``select_on="test"`` is asked for and flagged). The kept weights of both variants of the selected
epoch are held on the CPU, so the test split can be scored with both. ``stop_reason`` is the early
stop rule of Large Loss Matters' train.py (``stop_below_best``).
"""
from __future__ import annotations

import math
from typing import Any

from torch import nn

from bench.training.finetune.state import cpu_state


class Selection:
    """The best (epoch, variant) so far and its weights (``best`` is the ``best.pt`` payload)."""

    def __init__(self, best: dict[str, Any] | None = None):
        self.best = best

    def consider(self, epoch: int, values: dict[str, float], variants: dict[str, nn.Module]) -> bool:
        """Take this epoch's ``values`` (variant -> mAP(C)); True when the selection changed."""
        changed = False
        for variant, value in values.items():
            if math.isfinite(value) and (self.best is None or value > self.best["value"]):
                self.best = {"epoch": epoch, "variant": variant, "value": value}
                changed = True
        if changed:
            self.best.update({name: cpu_state(module) for name, module in variants.items()})
            self.best.setdefault("ema", None)
        return changed

    def summary(self, policy: str) -> dict[str, Any]:
        """The record's ``selection``: policy, epoch, variant, metric and its value."""
        best = self.best
        return {"policy": policy, "epoch": best["epoch"], "variant": best["variant"], "metric": "map_c",
                "value": best["value"]}


def stop_reason(values: dict[str, float], best: float | None, margin: float | None) -> str | None:
    """Why training stops after an epoch whose monitored mAP(C) per variant are ``values``: when
    ``margin`` is set and the epoch's best finite value is more than ``margin`` points below the best
    so far (``best``), a one-line reason; else None (LL: ``elif bestmap_val - map_val > 3: break``)."""
    finite = [v for v in values.values() if math.isfinite(v)]
    if margin is None or best is None or not finite or best - max(finite) <= margin:
        return None
    return f"monitored mAP(C) {max(finite):.2f} fell more than {margin:g} points below the best {best:.2f}"
