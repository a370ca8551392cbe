"""Reading results: ``bench show``, ``bench report`` and ``bench export``."""
from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from bench.cli.common import STORE_OPTION, err, existing_store, out
from bench.core.errors import InputError, writing

EXPORT_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".xlsx": "xlsx"}


def show(
    run_id: str = typer.Argument(..., help="run id or a unique prefix"),
    store: Path | None = STORE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="the whole record as JSON"),
) -> None:
    """Show one run record: configuration, metrics, diagnostics, notes, per-class AP, timings,
    environment, and the command that reproduces it."""
    from bench.cli.show import print_record

    print_record(out, existing_store(store).get_run(run_id), as_json=as_json)


class ReportFormat(str, Enum):
    md = "md"
    html = "html"


def report(
    dataset: list[str] | None = typer.Option(None, "--dataset", "-d",
                                             help="only these datasets (selector or plugin name; repeatable)"),
    fmt: ReportFormat = typer.Option(ReportFormat.md, "--format",
                                     help="md (stdout or a file with PNG figures) or html (a static site)"),
    output: Path | None = typer.Option(None, "--out", "-o", help="a .md file or a folder (required for html)"),
    cost: bool = typer.Option(False, "--cost", help="add device-hours and peak-memory columns"),
    references: str = typer.Option("all", "--references", help="published rows: all | matched | none"),
    significance: str = typer.Option("auto", "--significance", help="auto | bootstrap | seeds | off"),
    n_boot: int = typer.Option(1000, "--n-boot", help="paired-bootstrap resamples"),
    tune: Path | None = typer.Option(None, "--tune", help="YAML declaring tuned rows (family, grid)"),
    timestamp: bool = typer.Option(False, "--timestamp", help="write the generation time (off: output diffs cleanly)"),
    store: Path | None = STORE_OPTION,
) -> None:
    """Leaderboards like the CSL paper's: mean ± std (n) over seeds, best bold, significance marks,
    published reference rows with deltas, figures (Markdown with PNGs, or an HTML site)."""
    from bench.reporting import build_report

    source = existing_store(store)
    wanted = [_report_dataset_label(d) for d in dataset] if dataset else None
    if wanted:
        _require_a_match(source, wanted)
    with writing(output):
        result = build_report(source, datasets=wanted, fmt=fmt.value, out=output, cost=cost,
                              references=references,
                              significance=significance, n_boot=n_boot, tuning=str(tune) if tune else None,
                              timestamp=timestamp)
    if output is None:
        typer.echo(result, nl=False)
    else:
        err.print(f"wrote {result}", markup=False)


def _report_dataset_label(text: str) -> str:
    """Canonical label of a full selector (``p=0.50`` -> ``p=0.5``); a bare plugin name as given."""
    from bench.runs.resolve import resolve_dataset

    return resolve_dataset(text).label if any(ch in text for ch in "+[") else text


def _require_a_match(store: object, wanted: list[str]) -> None:
    """``InputError`` when the store has finished runs but none on the ``--dataset`` asked for (the
    report would otherwise say that the store is empty)."""
    from bench.reporting.build import matches_dataset

    labels = sorted({r.dataset for r in store.runs(status="done")})
    if labels and not any(matches_dataset(label, wanted) for label in labels):
        raise InputError(f"no run matches --dataset {', '.join(wanted)}; the store has done runs on: "
                         f"{', '.join(labels)}")


def export(
    path: Path = typer.Argument(..., help="output file (.csv, .parquet, or .xlsx when openpyxl is installed)"),
    fmt: str | None = typer.Option(None, "--format", help="csv, parquet or xlsx (default: from the file suffix)"),
    latest: bool = typer.Option(False, "--latest", help="only the latest done run of each configuration"),
    store: Path | None = STORE_OPTION,
) -> None:
    """Write the runs (with per-class AP columns) to CSV, parquet or xlsx."""
    from bench.store.export import check_format

    chosen = fmt or EXPORT_SUFFIXES.get(path.suffix.lower())
    if chosen is None:
        raise InputError(f"{path}: unknown export format '{path.suffix or '(no suffix)'}': name a .csv, .parquet "
                         "or .xlsx file, or give --format")
    check_format(chosen)
    source = existing_store(store)
    with writing(path):
        rows = source.export(path, chosen, latest_done_per_config=latest)
    err.print(f"wrote {rows} run(s) to {path}", markup=False)


def register(app: typer.Typer) -> None:
    """Mount ``bench show``, ``bench report`` and ``bench export``."""
    app.command(epilog="Example: bench show 3fa2c9e1")(show)
    app.command(epilog="Example: bench report --format html --out site/   "
                       "(or: bench report -d 'scene+rpa[p=0.5]' > board.md)")(report)
    app.command(epilog="Example: bench export runs.parquet --latest")(export)
