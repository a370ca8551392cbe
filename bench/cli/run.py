"""``bench run``: train one method on one dataset and record the run (skipped when already done).

The dataset selector is resolved once, here, and the resolved run travels to the runner as a value.
Without ``--method`` / ``--dataset`` the run uses the plugins that declare themselves the default
(``is_default``: the Negative CE baseline on the embedded scene dataset).
"""
from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any

import typer

from bench.cli.common import STORE_OPTION, err, out
from bench.cli.show import summary_lines
from bench.core.errors import InputError

HOW_NOT_WHAT = ("store", "device", "workers", "resume", "force", "quiet", "log")  # options outside the configuration


def _overrides(settings: list[str], **flags: Any) -> dict[str, Any]:
    """Recipe fields from ``--set field=value`` and the explicit flags (which win); None = not given."""
    from bench.runs.recipe_files import parse_overrides

    return {**parse_overrides(settings), **{k: v for k, v in flags.items() if v is not None}}


RUN_EPILOG = ("Examples: bench run --method negative --dataset 'scene+rpa[p=0.5]' --seed 1\n\n"
              "bench run --mode finetune --backbone resnet18 --dataset coco-mini")


def run(
    method: str | None = typer.Option(None, "--method", "-m", help="method selector, e.g. 'p-asl[gamma_neg=4]' "
                                                                   "(default: the default baseline, Negative CE)"),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="dataset selector, e.g. 'scene+rpa[p=0.5]' "
                                                                     "(default: the embedded default, scene)"),
    seed: int = typer.Option(0, help="training seed (initialisation, batch order)"),
    split_seed: int = typer.Option(0, help="seed of the partial-label protocol and the validation carve"),
    val_fraction: float = typer.Option(0.2, help="fraction of the training rows held out for model selection"),
    val_labels: str | None = typer.Option(None, help="labels the model is selected on: partial (the protocol's) or "
                                                     "clean (true labels); default: clean for single-positive, "
                                                     "else partial"),
    mode: str | None = typer.Option(None, help="linear (a head on features; default) or finetune (image "
                                                  "backbones end to end); default: the recipe's"),
    recipe: str | None = typer.Option(None, help="recipe name in recipes/ or a .yaml path (default: csl for "
                                                    "finetune, linear for linear)"),
    settings: list[str] = typer.Option([], "--set", help="override a recipe field, e.g. --set lr=1e-4 (repeatable)"),
    epochs: int | None = typer.Option(None, help="training epochs (default: the recipe's)"),
    lr: float | None = typer.Option(None, help="peak learning rate of the one-cycle schedule (Adam)"),
    batch_size: int | None = typer.Option(None, help="batch size (all processes together)"),
    weight_decay: float | None = typer.Option(None, help="L2 weight decay on weight matrices"),
    head: str | None = typer.Option(None, help="linear or mlp (feature heads)"),
    hidden: int | None = typer.Option(None, help="hidden units of the mlp head"),
    backbone: str | None = typer.Option(None, help="timm model name (image datasets), e.g. resnet50, tresnet_m"),
    pretrained: str | None = typer.Option(None, help="local weights (.safetensors or state dict; classifier "
                                                        "dropped), or 'hub[:tag]' to let timm download"),
    image_size: int | None = typer.Option(None, help="square input size S (default: the dataset's, else 448)"),
    select_on: str = typer.Option("val", help="val (default), last, or test (flagged in every report)"),
    evaluator: str = typer.Option("partial", help="partial (CSL mAP(C)), full or sklearn"),
    device: str = typer.Option("cpu", help="cpu or cuda"),
    workers: int | None = typer.Option(None, help="image loader processes (default: up to 8 on CUDA, cores/4 on CPU)"),
    resume: bool = typer.Option(False, "--resume", help="continue this configuration from its last checkpoint"),
    prior_path: Path | None = typer.Option(None, help="class prior CSV (official Classes,avg_pred format)"),
    from_official_args: str | None = typer.Option(None, help="the arguments of the official script a method "
                                                                "reproduces (CSL train.py), translated"),
    store: Path | None = STORE_OPTION,
    force: bool = typer.Option(False, "--force", help="run a new attempt even if this configuration is done"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
    log: list[str] = typer.Option([], "--log", metavar="TRACKER",
                                  help="send live curves to a tracker: tensorboard (event files in <store folder>/"
                                       "runs/<run id>/tensorboard) or mlflow (a local store, <store folder>/mlruns, "
                                       "or $MLFLOW_TRACKING_URI); repeatable; needs pip install 'bench[tracking]'"),
) -> None:
    """Train one method on one dataset and record the run (skipped when already done)."""
    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in locals().items() if k not in HOW_NOT_WHAT}
    for flag, value in (("--method", method), ("--dataset", dataset)):
        if value is not None and not value.strip():
            raise InputError(f"{flag} is empty: give a selector (bench list {flag[2:]}s) or leave the option "
                             "out for the default")
    from bench.runs import skip
    from bench.store import Store

    target = Store(store)
    key = skip.input_key(options) if os.environ.get("WORLD_SIZE", "1") == "1" else None
    known = None if force or key is None else skip.known_config_hash(target, key)
    done = None if known is None else target.latest_done(known)
    if done is not None:  # decided without importing the plugins (or torch)
        _print_skipped(done)
        return
    _train(options, target, key, force=force, quiet=quiet, device=device, workers=workers, resume=resume,
           log=tuple(log))


def _train(options: dict[str, Any], target: Any, key: str | None, *, force: bool, quiet: bool, device: str,
           workers: int | None, resume: bool, log: tuple[str, ...] = ()) -> None:
    """Resolve the run in full (plugins, torch), remember its hash for ``key``, skip or train it."""
    from bench.plugins.registry import DATASETS, METHODS
    from bench.runs import skip
    from bench.runs.config import RunConfig, processes, resolve_config
    from bench.runs.execute import execute
    from bench.runs.recipe_files import recipe_for_run
    from bench.runs.resolve import resolve_dataset

    method, dataset, prior_path = options["method"], options["dataset"], options["prior_path"]
    from_official_args, settings = options["from_official_args"], options["settings"]
    dataset = dataset or DATASETS.default().name
    if from_official_args is not None:
        if method is not None:
            raise typer.BadParameter("give either --method or --from-official-args", param_hint="--method")
        translated = _official_translator().from_official_args(from_official_args)
        method, dataset = translated.method, _with_protocol(dataset, translated.protocol)
        prior_path = prior_path or translated.prior_path or None
        err.print(f"official arguments: --method '{method}' --dataset '{dataset}'", markup=False, highlight=False)
        for note in translated.notes:
            err.print(f"note: {note}", markup=False, highlight=False)
    if not method:
        method = METHODS.default().name
        err.print(f"note: no --method given: running the baseline '{method}'", markup=False, highlight=False)
    flags = {name: options[name] for name in ("epochs", "lr", "batch_size", "weight_decay", "head", "hidden",
                                              "backbone", "pretrained", "image_size")}
    overrides = _overrides(settings, **flags)
    resolved_dataset = resolve_dataset(dataset)
    image_dataset = type(resolved_dataset.plugin).modality == "images"
    mode, run_recipe = recipe_for_run(options["mode"], image_dataset, options["recipe"], overrides)
    config = RunConfig(
        method=method, dataset=dataset, seed=options["seed"], split_seed=options["split_seed"],
        val_fraction=options["val_fraction"], val_labels=options["val_labels"], mode=mode,
        select_on=options["select_on"], evaluator=options["evaluator"], device=device, recipe=run_recipe,
        prior_path=str(prior_path) if prior_path is not None else None, workers=workers, resume=resume, log=log,
    )
    if processes() > 1:
        from bench.cli._torchrun import execute_distributed  # joins the process group: imports torch

        outcome = execute_distributed(config, target, force=force, progress=False if quiet else None)
        if outcome is None:
            return
    else:
        resolved = resolve_config(config, resolved_dataset)
        if key is not None:
            skip.remember(target, key, resolved.config_hash, skip.resolved_files(resolved))
        try:
            outcome = execute(resolved, target, force=force, progress=False if quiet else None,
                              on_wait=_say_waiting)
        except KeyboardInterrupt:
            _say_how_to_continue(target, resolved.config_hash, resume)
            raise
    record = outcome.record
    if outcome.status == "skipped":
        _print_skipped(record)
        return
    what, scores = _what(record), _scores(record)
    selection = record.selection or {}
    unit = "images" if record.config.get("mode") == "finetune" else "samples"
    variant = f", {selection['variant']} weights" if "variant" in selection else ""
    out.print(f"run {record.id[:12]} done: {what}: {scores} (model of epoch {selection.get('epoch')}{variant}, "
              f"selected on {selection.get('policy')}) in {record.timings['wall_s']:.1f} s, "
              f"{record.cost['samples_per_s']:.1f} {unit}/s", markup=False, highlight=False)
    for line in summary_lines(record):
        out.print(line, markup=False, highlight=False)
    if selection.get("policy") == "test":
        err.print("warning: the model was selected on the test set; reports flag this run", markup=False)


def _say_how_to_continue(store: Any, config_hash: str, resumed: bool) -> None:
    """After a Ctrl-C: the command that continues the run when its checkpoint exists."""
    from bench.training.checkpoint import LAST, checkpoint_root

    last = checkpoint_root(store.path) / config_hash / LAST
    if last.is_file():
        again = sys.argv[1:] if resumed else [*sys.argv[1:], "--resume"]
        err.print(f"interrupted: the last checkpoint is {last}; continue with: {shlex.join(['bench', *again])}",
                  markup=False, highlight=False)
    else:
        err.print("interrupted: no checkpoint was written (linear mode and finetune before its first epoch "
                  "start over); run the same command again", markup=False, highlight=False)


def _what(record: Any) -> str:
    return f"{record.method} on {record.dataset} (seed {record.seed}, split seed {record.split_seed})"


def _scores(record: Any) -> str:
    return f"mAP(C) {record.metrics['map_c']:.2f}, mAP(O) {record.metrics['map_o']:.2f}"


def _print_skipped(record: Any) -> None:
    out.print(f"skipped: {_what(record)} is already done as run {record.id[:12]} ({_scores(record)}); "
              "--force runs a new attempt", markup=False, highlight=False)


def _say_waiting(record: Any) -> None:
    err.print(f"waiting: run {record.id[:12]} (pid {record.pid} on {record.host}) is training this configuration; "
              "this run skips once it is done", markup=False, highlight=False)


def _official_translator() -> type:
    """The method class that declares an ``official_script`` (one is expected)."""
    from bench.plugins.registry import METHODS

    found = [cls for cls in METHODS.classes().values() if cls.__dict__.get("official_script")]
    if len(found) != 1:
        names = ", ".join(f"{c.name} ({c.official_script})" for c in found) or "none"
        raise InputError("--from-official-args needs exactly one method that translates official arguments; "
                         f"found {names}")
    return found[0]


def _with_protocol(dataset: str, protocol: str | None) -> str:
    """``dataset`` with the protocol the official arguments give (which must not contradict it)."""
    from bench.plugins.selectors import parse_dataset_selector

    parsed = parse_dataset_selector(dataset)
    if protocol is None:
        return dataset
    if parsed.protocol is not None and str(parsed.protocol) != protocol:
        raise typer.BadParameter(f"the official arguments give protocol '{protocol}' but --dataset has "
                                 f"'{parsed.protocol}'", param_hint="--dataset")
    return f"{parsed.dataset}+{protocol}"


def register(app: typer.Typer) -> None:
    """Mount ``bench run``."""
    app.command(epilog=RUN_EPILOG)(run)
