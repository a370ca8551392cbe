"""``bench store``: maintain the results store (``merge`` another machine's store into this one)."""
from __future__ import annotations

from pathlib import Path

import typer

from bench.cli.common import STORE_OPTION, out
from bench.store import Store


def merge(
    other: Path = typer.Argument(..., help="the store file to merge in (e.g. from another machine)"),
    store: Path | None = STORE_OPTION,
) -> None:
    """Merge another store's runs and artifacts into this one, never duplicating a run."""
    target = Store(store)
    n = target.merge(other)
    out.print(f"merged {other} into {target.path}: {n['added']} run(s) added, {n['updated']} completed, "
              f"{n['skipped']} already here; {n['artifacts_added']} artifact(s) added", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Mount the ``store`` command group."""
    store_app = typer.Typer(help="Maintain the results store.", no_args_is_help=True)
    store_app.command("merge", epilog="Example: bench store merge results/cluster.db")(merge)
    app.add_typer(store_app, name="store")
