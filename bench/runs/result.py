"""``RunResult``: what every training mode returns and the runner stores, typed."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.metrics import EvalResult


@dataclass
class RunResult:
    """One run's outcome.

    ``evaluation``: the test evaluation of the selected model; ``class_names`` in class order;
    ``selection``: how the model was chosen (policy, epoch, ...); ``timings`` in seconds
    (``train_s``, ``eval_s``, ...; the runner adds ``wall_s``); ``cost``: device, device_count, peak
    memory, throughput, epochs, steps (the runner adds ``device_hours``); ``test_scores``: sigmoid
    outputs at the annotated test entries, float32, in the canonical CSR order of the test labels;
    ``extra``: mode-specific provenance (history, artifacts, rows, weights, ...), with
    ``"diagnostics"`` (name -> figures and a one-line ``"summary"``) and ``"notes"`` (one-line
    warnings a reader must see beside the result) where the mode or the method gave any.
    """

    evaluation: EvalResult
    class_names: list[str]
    selection: dict[str, Any]
    timings: dict[str, float]
    cost: dict[str, Any]
    test_scores: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)

    def add_method_report(self, diagnostics: dict[str, dict[str, Any]], notes: list[str]) -> list[str]:
        """Merge a method's diagnostics (name -> figures with a one-line ``"summary"``) into
        ``extra["diagnostics"]`` and its notes (one-line warnings) into ``extra["notes"]``, after
        what the mode put there; return the notes that were not there yet."""
        if diagnostics:
            self.extra.setdefault("diagnostics", {}).update(diagnostics)
        kept = self.extra.setdefault("notes", []) if notes else self.extra.get("notes", [])
        new = [note for note in dict.fromkeys(notes) if note not in kept]
        kept.extend(new)
        return new

    def finish(self, wall_s: float) -> None:
        """Add the run's wall time and its device-hours (wall time x device count)."""
        self.timings["wall_s"] = wall_s
        self.cost["device_hours"] = wall_s / 3600.0 * self.cost["device_count"]

    def store_fields(self) -> dict[str, Any]:
        """The keyword arguments of ``Store.finish_run``."""
        metrics = self.evaluation.to_dict()
        per_class_ap = metrics.pop("per_class_ap")
        return {
            "metrics": metrics, "per_class_ap": per_class_ap, "class_names": list(self.class_names),
            "evaluator": self.evaluation.evaluator, "selection": self.selection, "timings": self.timings,
            "cost": self.cost, "test_scores": self.test_scores, "extra": self.extra,
        }
