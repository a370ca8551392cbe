"""``bench runs``: a table of the stored runs (id, method, dataset, seeds, status with the failure
reason, mAP(C), age), filtered by ``--status``, ``--method``, ``--dataset`` and ``--since``, or JSON."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from bench.cli.common import STORE_OPTION, existing_store, out

STATUS_STYLE = {"done": "green", "failed": "red", "stale": "yellow", "running": "cyan"}


def runs(
    status: str | None = typer.Option(None, help="done, failed, running or stale"),
    method: str | None = typer.Option(None, "--method", "-m", help="a method selector or plugin name"),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="a dataset selector or plugin name"),
    since: str | None = typer.Option(None, help="only runs started within an age (30m, 2h, 3d, 1w) or since a date"),
    as_json: bool = typer.Option(False, "--json", help="the rows as a JSON list"),
    store: Path | None = STORE_OPTION,
) -> None:
    """List the stored runs, oldest first."""
    from rich.markup import escape
    from rich.table import Table

    from bench.core.errors import InputError
    from bench.store.listing import age_text, list_runs, parse_since
    from bench.store.queries import REPORTED_STATUSES

    if status is not None and status not in REPORTED_STATUSES:
        raise InputError(f"--status {status!r}: use one of {', '.join(REPORTED_STATUSES)}")
    for flag, value in (("--method", method), ("--dataset", dataset)):
        if value is not None and not value.strip():
            raise InputError(f"{flag} is empty: give a selector or leave the option out")
    moment = parse_since(since) if since is not None else None
    rows = list_runs(existing_store(store).runs(status=status), method=method, dataset=dataset, since=moment)
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table(title=f"{len(rows)} run(s)")
    for column in ("id", "method", "dataset", "seed / split", "status", "mAP(C)", "age"):
        table.add_column(column, justify="right" if column in ("mAP(C)", "age") else "left", overflow="fold")
    for row in rows:
        shown = row["status"] + (f": {row['reason']}" if row["reason"] else "")
        table.add_row(row["id"][:12], escape(row["method"]), escape(row["dataset"]),
                      f"{row['seed']} / {row['split_seed']}",
                      f"[{STATUS_STYLE.get(row['status'], '')}]{escape(shown)}[/]",
                      "—" if row["map_c"] is None else f"{row['map_c']:.2f}", age_text(row["age_s"]))
    out.print(table)


def register(app: typer.Typer) -> None:
    """Mount ``bench runs``."""
    app.command("runs", epilog="Example: bench runs --status failed --since 1d")(runs)
