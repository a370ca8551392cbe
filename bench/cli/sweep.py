"""``bench sweep`` (a grid of runs from a YAML spec or the command-line shorthand, on the local or
the ray executor, resumable, with a live view) and ``bench store merge OTHER.db``."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bench.cli.common import STORE_OPTION, err, out

if TYPE_CHECKING:  # the sweep machinery imports torch: loaded when a sweep runs, not for --help
    from bench.sweep.driver import SweepSummary
    from bench.sweep.shorthand import Shorthand
    from bench.sweep.spec import SweepSpec

SWEEP_EPILOG = ("Examples: bench sweep sweep.yaml --dry-run;  bench sweep --method negative,selective "
                "--dataset 'scene+rpa[p=0.5]' --seeds 0,1,2 --param gamma_neg=1,2,4 --epochs 5;  "
                "bench sweep sweep.yaml --executor ray --address auto;  bench sweep sweep.yaml --log tensorboard")


class ExecutorName(str, Enum):
    local = "local"
    ray = "ray"


def _spec(spec_file: Path | None, grid: Shorthand, grid_given: bool) -> SweepSpec:
    from bench.sweep.shorthand import shorthand_spec
    from bench.sweep.spec import load_spec

    if spec_file is not None:
        if grid_given:
            raise typer.BadParameter("give either SPEC.yaml or the grid options (--method, --dataset, --seeds, "
                                     "--param, --recipe, --epochs, run options), not both", param_hint="SPEC")
        return load_spec(spec_file)
    if not grid.methods:
        raise typer.BadParameter("give SPEC.yaml or --method (with --dataset, --seeds, --param ...)",
                                 param_hint="--method")
    return shorthand_spec(grid)


def _report(summary: SweepSummary) -> None:
    out.print(f"sweep of {summary.cells} cells: {summary.done} done now, {len(summary.failed)} failed, "
              f"{summary.skipped_done} already done (skipped)"
              + (f", {summary.skipped_failed} failed before (skipped; --retry-failed runs them)"
                 if summary.skipped_failed else ""), markup=False, highlight=False)
    for record in summary.failed:
        err.print(f"failed: {record.method} on {record.dataset} (seed {record.seed}, split seed {record.split_seed}): "
                  f"{record.error} (bench show {record.id[:12]})", markup=False, highlight=False)


def sweep(
    spec_file: Path | None = typer.Argument(None, metavar="[SPEC.yaml]", help="sweep spec (docs/sweeps.md)"),
    method: str | None = typer.Option(None, "--method", "-m", help="comma-separated method selectors"),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="comma-separated dataset selectors [scene]"),
    seeds: str | None = typer.Option(None, help="comma-separated training seeds [0]"),
    split_seeds: str | None = typer.Option(None, help="comma-separated split seeds [0]"),
    param: list[str] = typer.Option([], "--param", help="method parameter grid, name=v1,v2 (repeatable)"),
    recipe: list[str] = typer.Option([], "--recipe", help="recipe grid, name=v1,v2: epochs, lr, batch_size, ..."),
    epochs: int | None = typer.Option(None, help="training epochs of every cell"),
    select_on: str | None = typer.Option(None, help="val (default), last or test"),
    evaluator: str | None = typer.Option(None, help="partial (default), full or sklearn"),
    device: str | None = typer.Option(None, help="cpu (default) or cuda"),
    val_fraction: float | None = typer.Option(None, help="validation fraction [0.2]"),
    executor: ExecutorName = typer.Option(ExecutorName.local, help="local (processes here) or ray (a Ray cluster)"),
    address: str | None = typer.Option(None, help="ray executor: auto or HOST:PORT of the cluster"),
    workers: int | None = typer.Option(None, help="cells at once (default: CPUs // cpus per cell)"),
    cpus_per_cell: float | None = typer.Option(None, help="CPUs per cell [1, or the spec's resources]"),
    gpus_per_cell: float | None = typer.Option(None, help="GPUs per cell [0, or the spec's resources]"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the grid with each cell's state; run nothing"),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="run failed cells again"),
    live: bool | None = typer.Option(None, "--live/--no-live", help="live table [on a terminal]"),
    settings: list[str] = typer.Option([], "--set", help="name=value for every cell: a recipe field (epochs=1) "
                                                         "or a dataset parameter (root=/data/coco); repeatable"),
    log: list[str] = typer.Option([], "--log", metavar="TRACKER",
                                  help="send every cell's live curves to a tracker, as bench run --log does: "
                                       "tensorboard (event files in <store folder>/runs/<run id>/tensorboard) or "
                                       "mlflow (<store folder>/mlruns, or $MLFLOW_TRACKING_URI); repeatable; "
                                       "replaces the spec's run.log; needs pip install 'bench[tracking]'"),
    store: Path | None = STORE_OPTION,
) -> None:
    """Run a grid of methods x parameters x datasets x seeds; done cells are skipped."""
    from bench.plugins.registry import DATASETS
    from bench.runs.tracking import check_trackers
    from bench.store import Store
    from bench.sweep.deps import DependencyPlan
    from bench.sweep.driver import run_sweep
    from bench.sweep.executors import make_executor
    from bench.sweep.grid import expand
    from bench.sweep.settings import apply_settings
    from bench.sweep.shorthand import Shorthand
    from bench.sweep.state import cell_states, dry_run_table, to_run

    run_options = {"select_on": select_on, "evaluator": evaluator, "device": device, "val_fraction": val_fraction}
    grid = Shorthand(methods=method or "", datasets=dataset or DATASETS.default().name, seeds=seeds or "0",
                     split_seeds=split_seeds or "0", params=list(param), recipe=list(recipe), epochs=epochs,
                     run=run_options)
    grid_given = any(v is not None for v in (method, dataset, seeds, split_seeds, epochs, *run_options.values())) \
        or bool(param or recipe)
    spec = apply_settings(_spec(spec_file, grid, grid_given), settings)
    if log:
        check_trackers(log)
        spec.run["log"] = tuple(dict.fromkeys(log))
    spec.cpus = spec.cpus if cpus_per_cell is None else cpus_per_cell
    spec.gpus = spec.gpus if gpus_per_cell is None else gpus_per_cell
    cells = expand(spec)
    target = Store(store)
    if dry_run:
        states = cell_states(cells, target)
        out.print(dry_run_table(states, retry_failed, DependencyPlan(to_run(states, retry_failed), target),
                                spec.estimate))
        return
    pool = make_executor(executor.value, workers=workers, address=address, cpus_per_cell=spec.cpus,
                         gpus_per_cell=spec.gpus, uses_cuda=any(c.run.device.startswith("cuda") for c in cells))
    summary = run_sweep(cells, target, pool, retry_failed=retry_failed, console=err, live=live)
    _report(summary)
    if summary.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Mount ``sweep``."""
    app.command("sweep", epilog=SWEEP_EPILOG)(sweep)
