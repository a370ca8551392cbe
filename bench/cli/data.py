"""``bench data info SELECTOR`` / ``bench data prepare SELECTOR``: load a dataset, build its
manifest (``bench.labels.manifest.build_manifest`` via ``bench.runs.resolve``) and show its statistics: per-class
positives / negatives / un-annotated, and the Spearman correlation of the annotated-positive
counts with the true positive counts when the dataset is fully labelled. ``prepare`` also writes
the manifest (``Manifest.save``)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.core.errors import writing

if TYPE_CHECKING:  # loading data needs numpy and scipy: imported when a data command runs
    from bench.runs.resolve import PreparedDataset

data_app = typer.Typer(help="Prepare and inspect datasets: manifests and their label statistics.", no_args_is_help=True)
SPLIT_SEED = typer.Option(0, help="seed of the protocol and the validation carve")
VAL_FRACTION = typer.Option(0.2, help="fraction of the official training rows held out for validation")
PART = typer.Option("train", help="rows counted: train, val or all official training rows")
ROWS = typer.Option(20, help="classes listed in the per-class table (0: all)")


def summary_table(prepared: PreparedDataset, part: str) -> Table:
    """One row per fact: sizes, protocol, fingerprints, totals, Spearman, integrity notes."""
    data, manifest = prepared.data, prepared.manifest
    stats = manifest.stats(part)
    table = Table(title=escape(f"dataset {prepared.selector}"), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    total = max(int(stats.positives.sum() + stats.negatives.sum() + stats.unannotated.sum()), 1)
    rows = [
        ("classes", f"{data.num_classes:,}"),
        ("official train / test rows", f"{len(data.train):,} / {len(data.test):,}"),
        ("train / val rows",
         f"{manifest.train_index.size:,} / {manifest.val_index.size:,} ({manifest.val_carve} carve)"),
        ("protocol", f"{manifest.protocol or 'native labels'} {manifest.protocol_params or ''}".strip()),
        ("manifest sha256", manifest.sha256),
        (f"{part} positives", f"{int(stats.positives.sum()):,} ({stats.positives.sum() / total:.2%})"),
        (f"{part} negatives", f"{int(stats.negatives.sum()):,} ({stats.negatives.sum() / total:.2%})"),
        (f"{part} un-annotated", f"{int(stats.unannotated.sum()):,} ({stats.unannotated.sum() / total:.2%})"),
        ("Spearman(annotated pos, true pos)",
         "n/a (true labels unknown)" if stats.spearman is None else f"{stats.spearman:.4f}"),
    ]
    if "class_list_sha256" in data.meta:
        rows.append(("class list sha256", str(data.meta["class_list_sha256"])))
    for split, info in data.meta.get("missing_images", {}).items():
        if info["count"]:
            rows.append((f"missing {split} images (dropped)", f"{info['count']:,}, list in {info['list']}"))
    if data.class_groups:
        rows.append(("class groups", ", ".join(f"{g}: {len(c)}" for g, c in data.class_groups.items())))
    for field, value in rows:
        table.add_row(escape(field), escape(value))
    return table


def class_table(prepared: PreparedDataset, part: str, limit: int) -> Table:
    """Per-class counts of ``part``; the first ``limit`` classes (all when 0)."""
    stats = prepared.manifest.stats(part)
    names = prepared.data.class_names
    shown = range(len(names)) if limit <= 0 else range(min(limit, len(names)))
    title = (f"per-class labels ({part} rows"
             + ("" if len(shown) == len(names) else f"; first {len(shown)} of {len(names)}") + ")")
    table = Table(title=title)
    columns = (["#", "class", "positives", "negatives", "un-annotated"]
               + (["true positives"] if stats.true_positives is not None else []))
    for column in columns:
        table.add_column(column, justify="left" if column == "class" else "right")
    for c in shown:
        cells = [str(c), escape(names[c]), f"{stats.positives[c]:,}", f"{stats.negatives[c]:,}",
                 f"{stats.unannotated[c]:,}"]
        if stats.true_positives is not None:
            cells.append(f"{stats.true_positives[c]:,}")
        table.add_row(*cells)
    return table


def _prepare(selector: str, split_seed: int, val_fraction: float, part: str) -> PreparedDataset:
    from bench.labels.manifest import PARTS
    from bench.runs.resolve import prepare, resolve_dataset

    if part not in PARTS:
        raise typer.BadParameter(f"must be one of {', '.join(PARTS)}", param_hint="--part")
    return prepare(resolve_dataset(selector), split_seed=split_seed, val_fraction=val_fraction)


@data_app.command("info",
                  epilog="Example: bench data info 'voc2007[root=/data/VOC2007,difficult=negative]+known[q=0.3]'")
def info(selector: str = typer.Argument(..., help="dataset selector, e.g. 'coco[root=/data/coco]+fpc[n_s=1000]'"),
         split_seed: int = SPLIT_SEED, val_fraction: float = VAL_FRACTION, part: str = PART, rows: int = ROWS) -> None:
    """Show a dataset's manifest statistics without writing anything."""
    prepared = _prepare(selector, split_seed, val_fraction, part)
    console = Console(soft_wrap=True)
    console.print(summary_table(prepared, part))
    console.print(class_table(prepared, part, rows))


@data_app.command("prepare",
                  epilog="Example: bench data prepare 'coco[root=/data/coco]+fpc[n_s=1000]' --out fpc1000.npz")
def prepare_command(selector: str = typer.Argument(..., help="dataset selector"),
                    out: Path | None = typer.Option(None, "--out", "-o",
                                                    help="manifest file (default: <sha256[:16]>.manifest.npz)"),
                    split_seed: int = SPLIT_SEED, val_fraction: float = VAL_FRACTION, part: str = PART,
                    rows: int = ROWS) -> None:
    """Materialise a dataset's manifest to a file and show its statistics."""
    prepared = _prepare(selector, split_seed, val_fraction, part)
    path = out or Path(f"{prepared.manifest.sha256[:16]}.manifest.npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    with writing(path):
        prepared.manifest.save(path)
    console = Console(soft_wrap=True)
    console.print(summary_table(prepared, part))
    console.print(class_table(prepared, part, rows))
    Console(stderr=True).print(f"wrote {path}", markup=False, highlight=False)


@data_app.command("root", epilog="Example: bench data root lvis /data/coco2017")
def root_command(name: str | None = typer.Argument(None, help="dataset plugin name, e.g. lvis (none: list all)"),
                 folder: Path | None = typer.Argument(None, help="its data folder (none: show the stored one)"),
                 unset: bool = typer.Option(False, "--unset", help="forget the stored folder of NAME")) -> None:
    """Say once where a dataset's files live; selectors without root=... then use it."""
    from bench.core.user_config import data_roots, save_data_root, user_config_path
    from bench.plugins.registry import DATASETS
    from bench.runs.data_roots import uses_root

    out = Console(soft_wrap=True)
    if name is None:
        roots = data_roots()
        out.print(f"user config {user_config_path()}", markup=False, highlight=False)
        for dataset, path in roots.items():
            out.print(f"{dataset}: {path}", markup=False, highlight=False)
        if not roots:
            out.print("no data roots stored (bench data root NAME PATH)", markup=False, highlight=False)
        return
    cls = DATASETS.get(name)
    if not uses_root(cls):
        raise typer.BadParameter(f"dataset '{name}' reads no root folder", param_hint="NAME")
    if unset or folder is None:
        if unset:
            save_data_root(name, None)
            out.print(f"{name}: stored root removed", markup=False, highlight=False)
        else:
            out.print(f"{name}: {data_roots().get(name, '(none stored)')}", markup=False, highlight=False)
        return
    resolved = folder.expanduser().resolve()
    if not resolved.is_dir():
        raise typer.BadParameter(f"{folder} is not a folder", param_hint="FOLDER")
    path = save_data_root(name, str(resolved))
    out.print(f"{name}: {resolved} (stored in {path})", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Mount the ``data`` command group on the bench CLI."""
    app.add_typer(data_app, name="data")
