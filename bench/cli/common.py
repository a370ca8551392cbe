"""What every command module shares: the consoles, the ``--store`` option and opening a store that
must exist (only ``bench run`` and ``bench sweep`` create one)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from bench.core.errors import InputError
from bench.core.paths import default_store_path

if TYPE_CHECKING:
    from bench.store import Store

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
STORE_OPTION = typer.Option(None, "--store", help="SQLite store (default: $BENCH_STORE or results/bench.db)")


def existing_store(path: Path | None) -> Store:
    """The store at ``path`` (default: ``$BENCH_STORE`` or ``results/bench.db``); ``InputError``
    when no store is there, so a typo never creates an empty one."""
    from bench.store import Store

    where = Path(path).expanduser() if path is not None else default_store_path()
    if not where.exists():
        raise InputError(f"no store at {where}: bench run or bench sweep creates one "
                         "(or give --store / set BENCH_STORE)")
    return Store(where)
