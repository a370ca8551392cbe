"""``bench store``: maintain the results store: ``merge`` another machine's store into this one,
``gc`` stale runs and checkpoints nobody will resume (``bench.store.gc``)."""
from __future__ import annotations

from pathlib import Path

import typer

from bench.cli.common import STORE_OPTION, existing_store, out


def merge(
    other: Path = typer.Argument(..., help="the store file to merge in (e.g. from another machine)"),
    store: Path | None = STORE_OPTION,
) -> None:
    """Merge another store's runs and artifacts into this one, never duplicating a run."""
    from bench.store import Store

    target = Store(store)
    n = target.merge(other)
    out.print(f"merged {other} into {target.path}: {n['added']} run(s) added, {n['updated']} completed, "
              f"{n['skipped']} already here; {n['artifacts_added']} artifact(s) added", markup=False, highlight=False)


def _size(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def gc(
    dry_run: bool = typer.Option(False, "--dry-run", help="show what would be done; change nothing"),
    store: Path | None = STORE_OPTION,
) -> None:
    """Mark stale runs as failed and remove the checkpoints of configurations whose latest run is
    done or failed (an interrupted run's checkpoint too: --resume then starts over)."""
    from bench.store.gc import apply_gc, checkpoint_root, plan_gc

    target = existing_store(store)
    plan = plan_gc(target)
    verb = "would be " if dry_run else ""
    for run_id, heartbeat_at in plan.stale:
        out.print(f"{'would mark' if dry_run else 'marked'} failed: run {run_id[:12]} (stale, last heartbeat "
                  f"{heartbeat_at})", markup=False)
    for folder, size, status in plan.removals:
        out.print(f"{'would remove' if dry_run else 'removed'}: {folder} ({_size(size)}, latest run {status})",
                  markup=False)
    for folder, reason in plan.kept:
        out.print(f"keep: {folder} ({reason})", markup=False)
    if not dry_run:
        apply_gc(target, plan)
    out.print(f"{'dry run: ' if dry_run else ''}{len(plan.stale)} stale run(s) {verb}marked failed, "
              f"{len(plan.removals)} checkpoint folder(s) {verb}removed ({_size(plan.freed_bytes)}) "
              f"under {checkpoint_root(target.path)}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Mount the ``store`` command group."""
    store_app = typer.Typer(help="Maintain the results store.", no_args_is_help=True)
    store_app.command("merge", epilog="Example: bench store merge results/cluster.db")(merge)
    store_app.command("gc", epilog="Example: bench store gc --dry-run")(gc)
    app.add_typer(store_app, name="store")
