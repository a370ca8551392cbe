"""``bench store gc``: mark stale runs as failed and remove the checkpoints nobody will resume.

Finetune runs write per-epoch checkpoints (about 270 MB each for a ResNet-18) to
``<checkpoint root>/<config hash>/``, where the root is ``$BENCH_CHECKPOINTS`` or the
``checkpoints`` folder beside the store (``bench.training.checkpoint.checkpoint_root``, restated
here because the store sits below training and never imports torch). A run that is killed keeps
"running" until readers see its heartbeat stop; its checkpoints stay forever.

The plan: every run readers report "stale" is recorded as failed (reason ``stale: ...``); then a
configuration's checkpoint folder is removed when its latest attempt is done or failed (an
interrupted run is failed: once its folder is gone, ``--resume`` starts over). Folders of a
configuration with a live attempt, and folders of configurations this store does not know (another
store may share ``$BENCH_CHECKPOINTS``), are kept.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from bench.store.errors import StoreError
from bench.store.store import Store

STALE_REASON = "stale: its process stopped reporting (heartbeat {heartbeat_at}); marked failed by bench store gc"


def checkpoint_root(store_path: str | Path) -> Path:
    """``$BENCH_CHECKPOINTS`` or ``<store folder>/checkpoints`` (as the finetune mode writes them)."""
    env = os.environ.get("BENCH_CHECKPOINTS")
    return Path(env) if env else Path(store_path).resolve().parent / "checkpoints"


def folder_size(path: Path) -> int:
    """Bytes of the files under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@dataclass
class GcPlan:
    """What ``gc`` does: ``stale`` run ids to fail, checkpoint ``removals`` (folder, bytes, the
    latest attempt's status) and the folders ``kept`` with the reason."""

    stale: list[tuple[str, str]] = field(default_factory=list)
    removals: list[tuple[Path, int, str]] = field(default_factory=list)
    kept: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def freed_bytes(self) -> int:
        return sum(size for _, size, _ in self.removals)


def plan_gc(store: Store, root: Path | None = None) -> GcPlan:
    """The plan for ``store`` and its checkpoint ``root`` (default: ``checkpoint_root(store.path)``)."""
    root = checkpoint_root(store.path) if root is None else root
    plan = GcPlan()
    latest: dict[str, str] = {}
    for record in store.runs():  # oldest first: the last one seen is the latest attempt
        if record.status == "stale":
            plan.stale.append((record.id, record.heartbeat_at))
        latest[record.config_hash] = "failed" if record.status == "stale" else record.status
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for folder in folders:
        status = latest.get(folder.name)
        if status in ("done", "failed"):
            plan.removals.append((folder, folder_size(folder), status))
        else:
            plan.kept.append((folder, "a run of it is still running" if status else "no run in this store"))
    return plan


def apply_gc(store: Store, plan: GcPlan) -> None:
    """Carry out ``plan``: fail the stale runs, then remove the checkpoint folders."""
    for run_id, heartbeat_at in plan.stale:
        try:
            store.fail_run(run_id, STALE_REASON.format(heartbeat_at=heartbeat_at))
        except StoreError:
            pass  # it finished since the plan was made

    for folder, _, _ in plan.removals:
        shutil.rmtree(folder)
