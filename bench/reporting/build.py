"""``build_report``: the store's finished runs -> leaderboard tables, summary and figures -> Markdown or HTML.

Runs are the latest done attempt of each configuration (``Store.runs(status="done",
latest_done_per_config=True)``), in store order. Output is deterministic: tables, rows and figures
are ordered by their labels and settings, bootstrap resamples are seeded, and no timestamp is
written unless ``timestamp=True``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.plugins.selectors import parse_dataset_selector
from bench.reporting.boards import main_boards
from bench.reporting.figures import parameter_figures, protocol_figures, spearman_figure
from bench.reporting.grouping import group_runs
from bench.reporting.headings import unique_titles
from bench.reporting.html import write_site
from bench.reporting.markdown import render_markdown, write_markdown
from bench.reporting.marking import ColumnMarker
from bench.reporting.model import Report
from bench.reporting.references import load_references
from bench.reporting.replicates import ReplicateCache
from bench.reporting.schema import load_schema
from bench.reporting.summary import PRIMARY, cross_dataset_summaries
from bench.reporting.sweeps import sweep_tables
from bench.reporting.tables import TableBuilder, TableOptions, slug
from bench.reporting.testsets import DatasetTestSets
from bench.reporting.tuning import load_tuning

FORMATS = ("md", "html")


@dataclass(frozen=True)
class ReportOptions:
    """Every option of ``build_report`` (see its docstring)."""

    title: str = "bench leaderboard"
    cost: bool = False
    columns: tuple[str, ...] = ()
    references: str = "all"
    significance: str = "auto"
    n_boot: int = 1000
    alpha: float = 0.05
    tuning: Any = None
    figures: bool = True
    timestamp: bool = False
    schema_path: str | Path | None = None
    references_path: str | Path | None = None
    test_sets: Callable[[Any], Any] | None = None
    bootstrap_cache: bool = True
    workers: int | None = None


def matches_dataset(selector: str, wanted: Iterable[str]) -> bool:
    """Whether a run's dataset selector is one of ``wanted``: the whole selector, its dataset part
    (``coco[root=/x]``) or its dataset plugin name (``coco``)."""
    parsed = parse_dataset_selector(selector)
    return any(w in (selector, str(parsed.dataset), parsed.dataset.name) for w in wanted)


def _unique_slugs(items: Sequence[Any]) -> None:
    seen: dict[str, int] = {}
    for item in items:
        count = seen.get(item.slug, 0)
        seen[item.slug] = count + 1
        if count:
            item.slug = f"{item.slug}-{count + 1}"


def assemble(records: Sequence[Any], options: ReportOptions = ReportOptions(), figure_format: str = "png",
             store: Any = None) -> Report:
    """The report of ``records`` (done runs with metrics); figures drawn as ``png`` or ``svg``.
    ``store``: where bootstrap replicates are cached (with ``options.bootstrap_cache``)."""
    schema = load_schema(options.schema_path)
    references = None if options.references == "none" else load_references(options.references_path)
    cache_store = store if options.bootstrap_cache else None
    test_sets = options.test_sets if options.test_sets is not None else DatasetTestSets(cache_store)
    cache = ReplicateCache(cache_store, n_boot=options.n_boot, workers=options.workers)
    marker = ColumnMarker(test_sets, mode=options.significance, n_boot=options.n_boot, alpha=options.alpha,
                          cache=cache)
    builder = TableBuilder(schema, references, marker, load_tuning(options.tuning),
                           TableOptions(cost=options.cost, columns=tuple(options.columns),
                                        references=options.references))
    groups = group_runs(records)
    marker.prefetch([(record, builder.statistics(group)) for group in groups
                     for row in group.rows for record in row.records])
    tables = [builder.leaderboard(group, slug(group.dataset)) for group in groups]
    sweeps = sweep_tables(groups, schema, marker)
    summaries = cross_dataset_summaries(tables, schema)
    unique_titles(tables + sweeps + summaries)
    _unique_slugs(tables + sweeps + summaries)
    boards = main_boards(tables)
    figures = []
    if options.figures:
        figures = (protocol_figures(sweeps, figure_format) + spearman_figure(records, figure_format)
                   + parameter_figures(groups, schema[PRIMARY], figure_format))
        _unique_slugs(figures)
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if options.timestamp else None
    notes = [f"{len(records)} finished runs (the latest done attempt of each configuration)."]
    if cache.write_error:
        notes.append(f"Bootstrap replicates not cached: {cache.write_error}")
    return Report(options.title, tables + sweeps, summaries, figures, list(records), notes, generated, boards)


def build_report(store: Any, datasets: Sequence[str] | None = None, fmt: str = "md",
                 out: str | Path | None = None, **options: Any) -> str | Path:
    """Build the leaderboard of ``store``'s finished runs.

    ``datasets``: keep runs whose dataset selector, dataset part or dataset plugin name is listed.
    ``fmt``: ``md`` (Markdown; returned as text when ``out`` is None, else written with its PNG
    figures to ``out`` if it ends in ``.md``, otherwise to ``out/leaderboard.md``) or ``html`` (a
    static site in ``out``: ``index.html`` plus one page per run; ``out`` required).
    Returns the Markdown text, or the path of the main file written.
    ``options``: the fields of ``ReportOptions`` -- ``cost`` (add device-hours / peak-memory columns),
    ``columns`` (extra metric keys), ``references`` (all | matched | none), ``significance``
    (auto | bootstrap | seeds | off), ``n_boot``, ``alpha``, ``tuning`` (YAML path or dict, see
    ``bench.reporting.tuning``), ``figures``, ``timestamp``, ``title``, ``schema_path``,
    ``references_path``, ``test_sets`` (callable record -> (key, LabelledTestSet) | None),
    ``bootstrap_cache`` (keep bootstrap replicates in ``store``, keyed by content:
    ``bench.reporting.replicates``), ``workers`` (processes computing missing replicates; default:
    one per usable CPU).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    unknown = set(options) - set(ReportOptions.__dataclass_fields__)
    if unknown:
        raise TypeError(f"build_report: unknown option(s) {', '.join(sorted(unknown))}")
    if fmt == "html" and out is None:
        raise ValueError("format html writes a static site: give an output folder (--out DIR)")
    if fmt == "md" and out is None:
        options["figures"] = False  # Markdown on stdout has nowhere to put the PNGs
    opts = ReportOptions(**options)
    records = [r for r in store.runs(status="done", latest_done_per_config=True) if r.metrics]
    if datasets:
        records = [r for r in records if matches_dataset(r.dataset, datasets)]
    report = assemble(records, opts, figure_format="svg" if fmt == "html" else "png", store=store)
    if fmt == "html":
        return write_site(report, Path(out), schema=load_schema(opts.schema_path))
    if out is None:
        return render_markdown(report, figure_dir=None)
    return write_markdown(report, Path(out))
