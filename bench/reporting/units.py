"""Units that fit the values: durations in s / min / h, memory in MiB / GiB.

A metric of the schema may declare the unit its stored value is in (``unit: h`` for device-hours,
``unit: GiB`` for peak memory). A column of such a metric is shown in the largest unit in which its
largest value is at least 1 (one unit for the whole column, so its cells compare at a glance), and
its header names the unit: ``device time (min)``. Values are shown with three significant digits
(at least one decimal).
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

# unit -> (ladder of (unit name, size in the stored unit), smallest first)
LADDERS = {
    "h": (("s", 1 / 3600), ("min", 1 / 60), ("h", 1.0)),
    "s": (("s", 1.0), ("min", 60.0), ("h", 3600.0)),
    "MiB": (("MiB", 1.0), ("GiB", 1024.0)),
    "GiB": (("MiB", 1 / 1024), ("GiB", 1.0)),
}
QUANTITY = {"h": "device time", "s": "time"}


@dataclass(frozen=True)
class Unit:
    """How to show a column: divide stored values by ``size``, name the unit ``name``."""

    name: str
    size: float
    decimals: int

    def text(self, value: float) -> str:
        return f"{value / self.size:.{self.decimals}f}"


def fit(stored_unit: str, values: Iterable[float | None]) -> Unit:
    """The unit of ``LADDERS[stored_unit]`` fitting the largest of ``values`` (the smallest unit
    when there is no value), with the decimals that give it three significant digits."""
    ladder = LADDERS[stored_unit]
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    top = max(finite, default=0.0)
    name, size = ladder[0]
    for candidate, candidate_size in ladder:
        if top >= candidate_size:
            name, size = candidate, candidate_size
    shown = top / size
    decimals = 1 if shown >= 10 or shown == 0 else max(1, 2 - math.floor(math.log10(shown)))
    return Unit(name, size, min(decimals, 4))


def header(metric_name: str, stored_unit: str, unit: Unit) -> str:
    """A column header naming its unit: ``device time (min)``, ``peak host memory (GiB)``."""
    base = QUANTITY.get(stored_unit) or metric_name
    return f"{base} ({unit.name})"
