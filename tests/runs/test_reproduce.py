"""The reproduce command rebuilt from a run record: recipe overrides against the closest shipped
recipe, non-default run options, and, end to end, a command that names the same configuration (the
runner skips it as already done)."""
from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from bench.core.resources import shipped
from bench.runs.recipe_files import load_recipe
from bench.runs.reproduce import closest_recipe, reproduce_command

BENCH = Path(sys.executable).with_name("bench")


def _record(recipe, **config):
    return SimpleNamespace(method="p-asl[gamma_neg=2]", dataset="coco[root=/d c]+fpc[n_s=1000]", seed=3, split_seed=1,
                           config={"mode": "linear", "recipe": recipe, **config}, extra={})


def test_overrides_only_the_fields_that_differ_from_the_closest_recipe():
    linear, _ = load_recipe(str(shipped("recipes") / "linear.yaml"))
    recipe = {k: list(v) if isinstance(v, tuple) else v for k, v in linear.items()}  # as a stored config holds it
    assert closest_recipe("linear", recipe)[0] == "linear"
    words = shlex.split(reproduce_command(_record(recipe)))
    assert words == ["bench", "run", "--method", "p-asl[gamma_neg=2]", "--dataset", "coco[root=/d c]+fpc[n_s=1000]",
                     "--seed", "3", "--split-seed", "1", "--mode", "linear", "--recipe", "linear"]
    changed = reproduce_command(_record({**recipe, "epochs": 7, "weight_decay_grid": [1.0, 2.0]},
                                        split={"val_fraction": 0.1, "val_labels": "clean"}, select_on="last"))
    assert changed.endswith("--recipe linear --set epochs=7 --set weight_decay_grid=1.0,2.0 --val-fraction 0.1 "
                            "--select-on last --val-labels clean")


def test_the_command_names_the_same_configuration(tmp_path):
    from bench.runs.config import RunConfig
    from bench.runs.execute import execute
    from bench.runs.recipe import Recipe
    from bench.store import Store

    store = Store(tmp_path / "bench.db")
    execute(RunConfig(method="negative", dataset="scene+rpa[p=0.5]", seed=1, recipe=Recipe(epochs=2)), store,
            progress=False)
    (record,) = store.runs(status="done")
    words = shlex.split(reproduce_command(record))
    assert "--set" in words and "epochs=2" in words
    done = subprocess.run([str(BENCH), *words[1:], "--store", str(tmp_path / "bench.db")], capture_output=True,
                          text=True, check=True)
    assert f"is already done as run {record.id[:12]}" in done.stdout + done.stderr
