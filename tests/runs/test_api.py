"""The Python API (``bench.get_method``, ``bench.get_dataset``) and the README's code blocks, run as
written."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import bench
from bench.cli.app import app
from bench.core.params import ParamError
from bench.labels.encoding import to_dense
from bench.plugins.registry import METHODS
from bench.runs.config import RunConfig
from bench.runs.execute import execute
from bench.runs.recipe import Recipe
from bench.store import Store
from tests.helpers.plugins import temporary_plugins

README = Path(__file__).resolve().parents[2] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_get_method_from_selector_and_keywords():
    method = bench.get_method("p-asl[gamma_neg=4]", clip=0.05)
    assert method.params["gamma_neg"] == 4.0 and method.params["clip"] == 0.05
    assert isinstance(method, bench.Method) and method.name == "p-asl"
    logits = torch.zeros(2, 3, requires_grad=True)
    loss = bench.get_method("negative").loss(logits, torch.tensor([[1, -1, 0], [0, 0, 1]], dtype=torch.int8))
    assert loss.ndim == 0 and loss.item() == pytest.approx(6 * np.log(2))  # six entries, BCE at p = 0.5
    with pytest.raises(ParamError, match="given both in the selector and as a keyword"):
        bench.get_method("p-asl[gamma_neg=4]", gamma_neg=3)
    with pytest.raises(ParamError, match="did you mean 'clip'"):
        bench.get_method("negative", clp=0.1)


def test_get_dataset_returns_data_and_a_deterministic_manifest():
    ds = bench.get_dataset("scene+rpa[p=0.5]", split_seed=3, val_fraction=0.25)
    assert ds.data.name == "scene" and ds.manifest.protocol == "rpa" and ds.manifest.split_seed == 3
    n_val = round(0.25 * 1211)
    assert len(ds.rows("val")) == n_val and len(ds.rows("train")) == 1211 - n_val
    assert ds.features("train").shape == (1211 - n_val, 294) and ds.features("test").shape == (1196, 294)
    unannotated = (to_dense(ds.labels("train")) == 0).mean()
    assert 0.45 < unannotated < 0.55
    assert ds.labels("test") is ds.data.test.labels
    again = bench.get_dataset("scene+rpa[p=0.5]", split_seed=3, val_fraction=0.25)
    assert again.manifest.sha256 == ds.manifest.sha256
    assert bench.get_dataset("scene+rpa[p=0.5]", split_seed=4).manifest.sha256 != ds.manifest.sha256
    with pytest.raises(ValueError, match="split must be"):
        ds.rows("test")


def test_readme_training_loop_runs_and_learns():
    block = next(b for b in _python_blocks() if "get_dataset" in b)
    namespace: dict = {}
    torch.manual_seed(0)
    exec(compile(block, str(README), "exec"), namespace)
    model, ds = namespace["model"], namespace["ds"]
    with torch.no_grad():
        scores = torch.sigmoid(model(torch.from_numpy(ds.features("test")))).numpy()
    from bench.metrics import evaluate

    assert evaluate(scores, ds.labels("test")).map_c > 60.0  # chance is about 18


def test_readme_method_file_is_a_working_plugin(tmp_path, monkeypatch):
    block = next(b for b in _python_blocks() if "register_method" in b)
    filename = block.splitlines()[0].removeprefix("# ").strip()
    with temporary_plugins(tmp_path / "plugins", monkeypatch, {filename: block}):
        cls = METHODS.get("down-weighted")
        assert cls().params == {"w": 0.1}
        record = execute(RunConfig("down-weighted[w=0.2]", "scene+rpa[p=0.5]", recipe=Recipe(epochs=3, lr=3e-3)),
                         Store(tmp_path / "runs.db"), progress=False).record
        assert record.status == "done" and record.config["method"]["params"] == {"w": 0.2}


def test_readme_shell_commands_name_real_options():
    text = README.read_text()
    help_text = CliRunner().invoke(app, ["run", "--help"]).output
    options = re.findall(r"`(--[a-z-]+)", text)
    assert "--split-seed" in options and "--from-official-args" in options
    for option in options:
        if option != "--debug":
            assert option in help_text, option
    assert "make demo" in text and "make test" in text
