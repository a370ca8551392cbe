"""What every command module shares: the consoles and the ``--store`` option."""
from __future__ import annotations

import typer
from rich.console import Console

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
STORE_OPTION = typer.Option(None, "--store", help="SQLite store (default: $BENCH_STORE or results/bench.db)")
