"""``bench export``: the resolved configuration as columns, so exports group without parsing JSON."""
from __future__ import annotations

import pandas as pd

from bench.runs.config import RunConfig, resolve_config
from bench.runs.execute import execute
from bench.runs.recipe import Recipe
from bench.store import Store
from bench.store.export import config_columns, write_runs


def test_config_columns_name_every_parameter_field_and_seed():
    config = resolve_config(RunConfig("selective[gamma_neg=3]", "scene+rpa[p=0.5]", seed=2, split_seed=1,
                                      recipe=Recipe(epochs=2))).config
    columns = config_columns(config)
    assert columns["method/name"] == "selective" and columns["method/gamma_neg"] == 3.0
    assert columns["dataset/name"] == "scene" and columns["protocol/name"] == "rpa"
    assert columns["protocol/p"] == 0.5 and columns["recipe/epochs"] == 2
    assert columns["split/split_seed"] == 1 and columns["split/val_labels"] == "partial"
    assert columns["mode"] == "linear" and columns["select_on"] == "val"


def test_exported_runs_group_by_configuration_columns(tmp_path):
    store = Store(tmp_path / "s.db")
    for method in ("negative", "ignore"):
        for seed in (0, 1):
            execute(RunConfig(method, "scene+rpa[p=0.5]", seed=seed, recipe=Recipe(epochs=2)), store, progress=False)
    path = tmp_path / "runs.parquet"
    assert write_runs(store.runs(), path, "parquet") == 4
    frame = pd.read_parquet(path)
    means = frame.groupby(["method/name", "protocol/p"])["map_c"].mean()
    assert set(means.index) == {("negative", 0.5), ("ignore", 0.5)}
    assert "config" in frame.columns and "recipe/epochs" in frame.columns
