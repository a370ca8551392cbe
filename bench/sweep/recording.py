"""The driver's side of a finished cell: write what its worker sent into the store.

Artifacts first (a prior the cell produced, kept if the store already has that key), then every
run record verbatim with its test scores (``Store.insert_record``: the worker's run id, timestamps,
host and environment; inserting the same id twice adds nothing). A cell that came back without a
record (it failed before its run was recorded, or its worker died) is recorded here as a failed
attempt with the reason, its manifest sha256 unknown (""). A record that comes back unfinished
(its worker could not close it) is stored as failed. Every write is one store transaction, so
several drivers may record into one store at once.
"""
from __future__ import annotations

from dataclasses import replace

from bench.core.provenance import environment
from bench.store import RunRecord, Store
from bench.sweep.grid import Cell
from bench.sweep.worker import CellResult

UNFINISHED_REASON = "the worker stopped before finishing the run"


def record_failure(store: Store, cell: Cell, reason: str) -> RunRecord:
    """A failed attempt of ``cell`` with ``reason``, for a cell that left no record of its own."""
    run_id = store.start_run(
        config=cell.config, config_hash=cell.config_hash, method=cell.method, dataset=cell.dataset,
        seed=cell.run.seed, split_seed=cell.run.split_seed, manifest_sha256="", env=environment(cell.run.device),
    )
    store.fail_run(run_id, reason)
    return store.get_run(run_id)


def record_result(store: Store, cell: Cell, result: CellResult) -> RunRecord:
    """Store ``result`` (see the module docstring); returns the cell's last stored record."""
    for artifact in result.artifacts:
        if store.get_artifact(artifact.name, artifact.key) is None:
            store.put_artifact(artifact.name, artifact.key, artifact.payload, artifact.meta)
    stored: RunRecord | None = None
    for data in result.records:
        record = RunRecord.from_dict(data)
        if record.status not in ("done", "failed"):
            record = replace(record, status="failed", error=result.error or UNFINISHED_REASON)
        store.insert_record(record, result.scores.get(record.id))
        stored = record
    if stored is None:
        stored = record_failure(store, cell, result.error or UNFINISHED_REASON)
    return stored
