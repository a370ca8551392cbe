"""Tuned rows: a method family tuned over a declared grid, the configuration chosen on validation.

A tuning spec (YAML file or dict) declares, per family (a method plugin name, e.g. ``p-asl``), its
grid and optionally parameters held fixed::

    tuned:
      p-asl:
        grid: {gamma_neg: [1, 2, 4], likelihood_topk: [1, 5]}
        fixed: {mode: selective}

In each table, the family's candidates are the rows whose resolved method parameters
(``config.method.params``) lie on the grid and match ``fixed``; rows selected on the test set are
never candidates. Each candidate's validation score is the mean over its runs of the recorded
selection value (``selection = {"policy": "val", "metric": "map_c", "value": ...}``, see
``bench.training.trainer``); a candidate with any run not selected on validation is left out. The
candidate with the highest score (first in row order on ties) becomes the tuned row; the test
metrics shown are its own. The budget is the number of candidates evaluated; tables flag unequal budgets.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.core.errors import InputError
from bench.reporting.grouping import RunGroup


class TuningError(InputError):
    """A malformed tuning spec (the message names the file and the family)."""


@dataclass(frozen=True)
class TuningSpec:
    """One family's declared grid (parameter -> values) and fixed parameters."""

    family: str
    grid: dict[str, list]
    fixed: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return math.prod(len(v) for v in self.grid.values())

    def grid_text(self) -> str:
        return " × ".join(f"{k} ∈ {{{', '.join(str(v) for v in values)}}}" for k, values in self.grid.items())


@dataclass(frozen=True)
class TunedChoice:
    """The outcome of tuning one family in one table."""

    spec: TuningSpec
    chosen: RunGroup
    score: float
    candidates: list[RunGroup]


def _matches(value: Any, wanted: Any) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and isinstance(wanted, (int, float)):
        return math.isclose(float(value), float(wanted), rel_tol=1e-9, abs_tol=1e-12)
    return str(value) == str(wanted)


def load_tuning(source: str | Path | dict | None) -> list[TuningSpec]:
    """The specs of a YAML file path or an already parsed dict (``None``: no tuning)."""
    if source is None:
        return []
    where = "tuning spec"
    if not isinstance(source, dict):
        where = str(source)
        from bench.core.yamlfile import read_yaml  # yaml: only when a tuning file is given

        source = read_yaml(source, TuningError)
    families = source.get("tuned") if isinstance(source, dict) else None
    if not isinstance(families, dict) or not families:
        raise TuningError(f"{where}: expected a top-level 'tuned:' mapping of method family -> grid")
    specs = []
    for family, body in families.items():
        grid = body.get("grid") if isinstance(body, dict) else None
        if not isinstance(grid, dict) or not grid or not all(isinstance(v, list) and v for v in grid.values()):
            raise TuningError(f"{where}: family '{family}' needs 'grid:' mapping each parameter to a non-empty list")
        fixed = body.get("fixed") or {}
        if not isinstance(fixed, dict):
            raise TuningError(f"{where}: family '{family}': 'fixed' must be a mapping")
        specs.append(TuningSpec(str(family), dict(grid), dict(fixed)))
    return specs


def _on_grid(spec: TuningSpec, row: RunGroup) -> bool:
    if row.identity.get("method.name") != spec.family or row.test_selected:
        return False
    params = {k[len("method.params."):]: v for k, v in row.identity.items() if k.startswith("method.params.")}
    return (all(k in params and any(_matches(params[k], v) for v in values) for k, values in spec.grid.items())
            and all(k in params and _matches(params[k], v) for k, v in spec.fixed.items()))


def _validation_score(row: RunGroup) -> float | None:
    values = []
    for record in row.records:
        selection = record.selection or {}
        value = selection.get("value")
        if selection.get("policy") != "val" or not isinstance(value, (int, float)) or math.isnan(value):
            return None
        values.append(float(value))
    return sum(values) / len(values) if values else None


def choose(spec: TuningSpec, rows: list[RunGroup]) -> TunedChoice | None:
    """The tuned choice of ``spec`` among ``rows`` (None when no candidate has a validation score)."""
    scored = [(row, _validation_score(row)) for row in rows if _on_grid(spec, row)]
    scored = [(row, score) for row, score in scored if score is not None]
    if not scored:
        return None
    best_row, best_score = scored[0]
    for row, score in scored[1:]:
        if score > best_score:
            best_row, best_score = row, score
    return TunedChoice(spec, best_row, best_score, [row for row, _ in scored])
