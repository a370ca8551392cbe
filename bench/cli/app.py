"""The ``bench`` command line (Typer + rich).

Commands: ``list``, ``run``, ``show``, ``report``, ``export``, plus every engine module
``bench/cli/<topic>.py`` that exposes ``register(app)`` (mounted automatically). Exit codes: 0 ok,
1 run failure, 2 usage error (unknown or ill-typed option, method, dataset, parameter, bad labels,
unusable store), 130 interrupted. Errors are one line on stderr; ``bench --debug ...`` shows the
traceback instead.
"""
from __future__ import annotations

import importlib
import pkgutil
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from typer.core import TyperGroup

import bench
import bench.cli
from bench.core.errors import EXIT_FAILED, EXIT_INTERRUPTED, BenchError, writing
from bench.runs.resolve import resolve_dataset
from bench.cli.listing import datasets_table, failed_lines, methods_table, protocols_table
from bench.cli.official_args import translate_official_args
from bench.plugins.registry import DATASETS, METHODS
from bench.runs.execute import RunConfig, execute
from bench.plugins.selectors import parse_dataset_selector
from bench.cli.show import print_record
from bench.store import Store
from bench.training.distributed import execute_distributed, launched_by_torchrun
from bench.runs.recipe_files import parse_overrides, recipe_for_run

DEFAULT_METHOD = "negative"
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class BenchGroup(TyperGroup):
    """Turns exceptions into one-line errors and exit codes (tracebacks with ``--debug``)."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except KeyboardInterrupt:
            err.print("interrupted", style="yellow")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            if isinstance(exc, BenchError):
                message, code = f"error: {exc.one_line()}", exc.exit_code
            else:
                text = " ".join(str(exc).split())
                message = (f"internal error: {type(exc).__name__}{': ' + text if text else ''} "
                           "(run with --debug for the traceback)")
                code = EXIT_FAILED
            err.print(message, style="red", markup=False, highlight=False)
            raise typer.Exit(code) from None


app = typer.Typer(
    cls=BenchGroup, name="bench", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Benchmark harness and leaderboards for multi-label classification with partial annotations.",
    epilog="Example: bench run --method negative --dataset 'scene+rpa[p=0.5]' && bench report",
)
STORE_OPTION = typer.Option(None, "--store", help="SQLite store (default: $BENCH_STORE or results/bench.db)")


@app.callback()
def _options(ctx: typer.Context, debug: bool = typer.Option(False, "--debug", help="show tracebacks")) -> None:
    ctx.obj = {"debug": debug}


class Listable(str, Enum):
    methods = "methods"
    datasets = "datasets"
    protocols = "protocols"


@app.command("list", epilog="Example: bench list methods")
def list_plugins(what: Listable = typer.Argument(..., help="methods, datasets or protocols")) -> None:
    """List the installed methods, datasets or protocols with their parameters and defaults,
    and the plugins that failed to import with their error."""
    if what is Listable.protocols:
        out.print(protocols_table())
        return
    out.print(methods_table() if what is Listable.methods else datasets_table())
    for line in failed_lines(METHODS if what is Listable.methods else DATASETS):
        out.print(line, style="red", markup=False, highlight=False)
    for module, error in sorted(FAILED_CLI_MODULES.items()):
        err.print(f"warning: CLI module bench.cli.{module} failed to import: {error}", markup=False)


def _overrides(settings: list[str], **flags: Any) -> dict[str, Any]:
    """Recipe fields from ``--set field=value`` and the explicit flags (which win); None = not given."""
    return {**parse_overrides(settings), **{k: v for k, v in flags.items() if v is not None}}


@app.command(epilog="Examples: bench run --method negative --dataset 'scene+rpa[p=0.5]' --seed 1\n\n"
                    "bench run --mode finetune --backbone resnet18 --dataset coco-mini")
def run(
    method: Optional[str] = typer.Option(None, "--method", "-m", help="method selector, e.g. 'p-asl[gamma_neg=4]' "
                                                                   "(default: negative, the Negative CE baseline)"),
    dataset: str = typer.Option("scene", "--dataset", "-d", help="dataset selector, e.g. 'scene+rpa[p=0.5]'"),
    seed: int = typer.Option(0, help="training seed (initialisation, batch order)"),
    split_seed: int = typer.Option(0, help="seed of the partial-label protocol and the validation carve"),
    val_fraction: float = typer.Option(0.2, help="fraction of the training rows held out for model selection"),
    mode: Optional[str] = typer.Option(None, help="linear (a head on features; default) or finetune (image "
                                                  "backbones end to end); default: the recipe's"),
    recipe: Optional[str] = typer.Option(None, help="recipe name in recipes/ or a .yaml path (default: csl for "
                                                    "finetune, linear for linear)"),
    settings: list[str] = typer.Option([], "--set", help="override a recipe field, e.g. --set lr=1e-4 (repeatable)"),
    epochs: Optional[int] = typer.Option(None, help="training epochs (default: the recipe's)"),
    lr: Optional[float] = typer.Option(None, help="peak learning rate of the one-cycle schedule (Adam)"),
    batch_size: Optional[int] = typer.Option(None, help="batch size (all processes together)"),
    weight_decay: Optional[float] = typer.Option(None, help="L2 weight decay on weight matrices"),
    head: Optional[str] = typer.Option(None, help="linear or mlp (feature heads)"),
    hidden: Optional[int] = typer.Option(None, help="hidden units of the mlp head"),
    backbone: Optional[str] = typer.Option(None, help="timm model name (image datasets), e.g. resnet50, tresnet_m"),
    pretrained: Optional[str] = typer.Option(None, help="local weights (.safetensors or state dict; classifier "
                                                        "dropped), or 'hub[:tag]' to let timm download"),
    image_size: Optional[int] = typer.Option(None, help="square input size S (default: the dataset's, else 448)"),
    select_on: str = typer.Option("val", help="val (default), last, or test (flagged in every report)"),
    evaluator: str = typer.Option("partial", help="partial (CSL mAP(C)), full or sklearn"),
    device: str = typer.Option("cpu", help="cpu or cuda"),
    workers: Optional[int] = typer.Option(None, help="image loader processes (default: up to 8 on CUDA, cores/4 on CPU)"),
    resume: bool = typer.Option(False, "--resume", help="continue this configuration from its last checkpoint"),
    prior_path: Optional[Path] = typer.Option(None, help="class prior CSV (official Classes,avg_pred format)"),
    from_official_args: Optional[str] = typer.Option(None, help="the official CSL train.py arguments, translated"),
    store: Optional[Path] = STORE_OPTION,
    force: bool = typer.Option(False, "--force", help="run a new attempt even if this configuration is done"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Train one method on one dataset and record the run (skipped when already done)."""
    if from_official_args is not None:
        if method is not None:
            raise typer.BadParameter("give either --method or --from-official-args", param_hint="--method")
        translated = translate_official_args(from_official_args)
        method, dataset = translated["method"], _with_protocol(dataset, translated["protocol"])
        prior_path = prior_path or (Path(translated["prior_path"]) if translated["prior_path"] else None)
        err.print(f"official arguments: --method '{method}' --dataset '{dataset}'", markup=False, highlight=False)
        for note in translated["notes"]:
            err.print(f"note: {note}", markup=False, highlight=False)
    if not method:
        method = DEFAULT_METHOD
        err.print(f"note: no --method given: running the baseline '{DEFAULT_METHOD}'", markup=False, highlight=False)
    overrides = _overrides(settings, epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay, head=head,
                           hidden=hidden, backbone=backbone, pretrained=pretrained, image_size=image_size)
    image_dataset = type(resolve_dataset(dataset).plugin).kind == "images"
    mode, run_recipe = recipe_for_run(mode, image_dataset, recipe, overrides)
    config = RunConfig(
        method=method, dataset=dataset, seed=seed, split_seed=split_seed,
        val_fraction=val_fraction, mode=mode, select_on=select_on, evaluator=evaluator, device=device,
        recipe=run_recipe, prior_path=str(prior_path) if prior_path is not None else None, workers=workers,
        resume=resume,
    )
    if launched_by_torchrun():
        outcome = execute_distributed(config, Store(store), force=force, progress=False if quiet else None)
        if outcome is None:
            return
    else:
        outcome = execute(config, Store(store), force=force, progress=False if quiet else None)
    record = outcome.record
    what = f"{record.method} on {record.dataset} (seed {record.seed}, split seed {record.split_seed})"
    scores = f"mAP(C) {record.metrics['map_c']:.2f}, mAP(O) {record.metrics['map_o']:.2f}"
    if outcome.status == "skipped":
        out.print(f"skipped: {what} is already done as run {record.id[:12]} ({scores}); --force runs a new attempt",
                  markup=False, highlight=False)
        return
    selection = record.selection or {}
    unit = "images" if record.config.get("mode") == "finetune" else "samples"
    variant = f", {selection['variant']} weights" if "variant" in selection else ""
    out.print(f"run {record.id[:12]} done: {what}: {scores} (model of epoch {selection.get('epoch')}{variant}, "
              f"selected on {selection.get('policy')}) in {record.timings['wall_s']:.1f} s, "
              f"{record.cost['samples_per_s']:.1f} {unit}/s", markup=False, highlight=False)
    if selection.get("policy") == "test":
        err.print("warning: the model was selected on the test set; reports flag this run", markup=False)


def _with_protocol(dataset: str, protocol: str | None) -> str:
    """``dataset`` with the protocol the official arguments give (which must not contradict it)."""
    parsed = parse_dataset_selector(dataset)
    if protocol is None:
        return dataset
    if parsed.protocol is not None and str(parsed.protocol) != protocol:
        raise typer.BadParameter(f"the official arguments give protocol '{protocol}' but --dataset has "
                                 f"'{parsed.protocol}'", param_hint="--dataset")
    return f"{parsed.dataset}+{protocol}"


@app.command(epilog="Example: bench show 3fa2c9e1")
def show(
    run_id: str = typer.Argument(..., help="run id or a unique prefix"),
    store: Optional[Path] = STORE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="the whole record as JSON"),
) -> None:
    """Show one run record: configuration, metrics, per-class AP, timings, environment."""
    print_record(out, Store(store).get_run(run_id), as_json=as_json)


class ReportFormat(str, Enum):
    md = "md"
    html = "html"


@app.command(epilog="Example: bench report --format html --out site/   (or: bench report -d 'scene+rpa[p=0.5]' > board.md)")
def report(
    dataset: Optional[list[str]] = typer.Option(None, "--dataset", "-d", help="only these datasets (selector or plugin name; repeatable)"),
    fmt: ReportFormat = typer.Option(ReportFormat.md, "--format", help="md (stdout or a file with PNG figures) or html (a static site)"),
    output: Optional[Path] = typer.Option(None, "--out", "-o", help="a .md file or a folder (required for html)"),
    cost: bool = typer.Option(False, "--cost", help="add device-hours and peak-memory columns"),
    references: str = typer.Option("all", "--references", help="published rows: all | matched | none"),
    significance: str = typer.Option("auto", "--significance", help="auto | bootstrap | seeds | off"),
    n_boot: int = typer.Option(1000, "--n-boot", help="paired-bootstrap resamples"),
    tune: Optional[Path] = typer.Option(None, "--tune", help="YAML declaring tuned rows (family, grid)"),
    timestamp: bool = typer.Option(False, "--timestamp", help="write the generation time (off: output diffs cleanly)"),
    store: Optional[Path] = STORE_OPTION,
) -> None:
    """Leaderboards like the CSL paper's: mean ± std (n) over seeds, best bold, significance marks,
    published reference rows with deltas, figures (Markdown with PNGs, or an HTML site)."""
    from bench.reporting import build_report

    wanted = [_report_dataset_label(d) for d in dataset] if dataset else None
    with writing(output):
        result = build_report(Store(store), datasets=wanted, fmt=fmt.value, out=output, cost=cost, references=references,
                              significance=significance, n_boot=n_boot, tuning=str(tune) if tune else None,
                              timestamp=timestamp)
    if output is None:
        typer.echo(result, nl=False)
    else:
        err.print(f"wrote {result}", markup=False)


def _report_dataset_label(text: str) -> str:
    """Canonical label of a full selector (``p=0.50`` -> ``p=0.5``); a bare plugin name as given."""
    return resolve_dataset(text).label if any(ch in text for ch in "+[") else text


@app.command(epilog="Example: bench export runs.parquet --latest")
def export(
    path: Path = typer.Argument(..., help="output file (.csv or .parquet)"),
    fmt: Optional[str] = typer.Option(None, "--format", help="csv or parquet (default: from the file suffix)"),
    latest: bool = typer.Option(False, "--latest", help="only the latest done run of each configuration"),
    store: Optional[Path] = STORE_OPTION,
) -> None:
    """Write the runs (with per-class AP columns) to CSV or parquet."""
    chosen = fmt or ("parquet" if path.suffix == ".parquet" else "csv")
    with writing(path):
        rows = Store(store).export(path, chosen, latest_done_per_config=latest)
    err.print(f"wrote {rows} run(s) to {path}", markup=False)


FAILED_CLI_MODULES: dict[str, str] = {}


def mount_cli_modules(target: typer.Typer) -> None:
    """Mount every ``bench/cli/<topic>.py`` exposing ``register(app)``; record import failures."""
    for info in sorted(pkgutil.iter_modules(bench.cli.__path__), key=lambda i: i.name):
        if info.name == "app":
            continue
        try:
            module = importlib.import_module(f"bench.cli.{info.name}")
        except Exception as exc:  # noqa: BLE001 - a broken topic must not break the CLI
            FAILED_CLI_MODULES[info.name] = f"{type(exc).__name__}: {exc}"
            continue
        register = getattr(module, "register", None)
        if callable(register):
            register(target)


mount_cli_modules(app)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="bench")
