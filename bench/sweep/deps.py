"""Dependencies between cells: the class prior a Selective cell needs, trained once and shared.

The engine trains a prior with a temporary model and caches it in the store under a key built from
the manifest sha256 and the prior's fields of the resolved configuration (``bench.runs.prior``).
The manifest needs the loaded data; the sweep groups cells by the same fields without it
(``bench.runs.prior.prior_group``): dataset and protocol (which fix the manifest together with the
split), split, mode, recipe, seed, estimator and the temporary method. Within a group, one cell runs
first and produces the prior; its worker returns it (with the
key the engine used, from the run record's artifact provenance) and every later cell of the group
receives it, so the prior is trained once however many Selective cells share it. A prior already in
the store (found through the provenance of a done run of the same group) is shared from the start.
A wrong grouping could only cost sharing, never correctness: the worker's engine looks the prior up
under its own key and trains it when absent.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from bench.runs.prior import ARTIFACT as PRIOR
from bench.runs.prior import prior_group
from bench.store import Store
from bench.sweep.grid import Cell


@dataclass(frozen=True)
class SharedArtifact:
    """An artifact as the store holds it: ``(artifact name, key) -> (payload, meta)``."""

    name: str
    key: str
    payload: bytes
    meta: dict[str, Any]


def provenance_keys(extra: dict[str, Any]) -> dict[str, str]:
    """Artifact name -> the store key its producer used, from a run record's ``extra["artifacts"]``."""
    provenance = extra.get("artifacts") or {}
    return {name: meta["key"] for name, meta in provenance.items() if isinstance(meta, dict) and meta.get("key")}


class DependencyPlan:
    """Which cells may start now and which shared artifacts each receives.

    ``ready(cell)``: True unless another cell of its group is producing the prior right now.
    ``claim(cell)``: the artifacts to send with the cell (empty: the cell produces the prior).
    ``finished(cell, artifacts)``: a cell came back; a prior it produced is shared from now on
    (when it failed before producing one, the next cell of the group produces it).
    """

    def __init__(self, cells: Iterable[Cell], store: Store):
        cells = list(cells)
        self.group_of = {cell.index: prior_group(cell.config) for cell in cells}
        self.known: dict[str, SharedArtifact] = {}
        self.producer: dict[str, int] = {}
        datasets = {cell.dataset for cell in cells if self.group_of[cell.index] is not None}
        self._load(store, {g for g in self.group_of.values() if g is not None}, datasets)

    def _load(self, store: Store, groups: set[str], datasets: set[str]) -> None:
        """Share the priors that done runs of these groups (on these datasets) left in the store."""
        records = [r for dataset in sorted(datasets) for r in store.runs(status="done", dataset=dataset)]
        for record in reversed(records):
            group = prior_group(record.config)
            key = provenance_keys(record.extra).get(PRIOR)
            if group not in groups or group in self.known or key is None:
                continue
            stored = store.get_artifact(PRIOR, key)
            if stored is not None:
                self.known[group] = SharedArtifact(PRIOR, key, stored[0], stored[1])

    def ready(self, cell: Cell) -> bool:
        group = self.group_of.get(cell.index)
        return group is None or group in self.known or group not in self.producer

    def claim(self, cell: Cell) -> list[SharedArtifact]:
        group = self.group_of.get(cell.index)
        if group is None:
            return []
        if group in self.known:
            return [self.known[group]]
        self.producer[group] = cell.index
        return []

    def finished(self, cell: Cell, artifacts: Iterable[SharedArtifact]) -> None:
        group = self.group_of.get(cell.index)
        if group is None:
            return
        if self.producer.get(group) == cell.index:
            del self.producer[group]
        for artifact in artifacts:
            if artifact.name == PRIOR:
                self.known.setdefault(group, artifact)

    def describe(self, cells: list[Cell]) -> dict[int, str]:
        """What each of ``cells`` (the ones that would run, in order) does about its prior."""
        out: dict[int, str] = {}
        first: dict[str, int] = {}
        for cell in cells:
            group = self.group_of.get(cell.index)
            if group is None:
                continue
            if group in self.known:
                out[cell.index] = "prior from store"
            elif group not in first:
                first[group] = cell.index
                out[cell.index] = "trains prior"
            else:
                out[cell.index] = f"prior from cell {first[group]}"
        return out
