"""``bench.runs.execute``: real runs on the embedded ``scene`` dataset into a temporary store."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from bench.cli.app import app
from bench.core.errors import InputError
from bench.labels.encoding import canonical_csr
from bench.labels.protocols import ProtocolError
from bench.metrics import evaluate
from bench.plugins.registry import DATASETS
from bench.runs.config import MAX_SEED, RunConfig, config_hash, resolve_config
from bench.runs.execute import RunFailed, execute
from bench.runs.recipe import MAX_BATCH_SIZE, MAX_EPOCHS, ImageRecipe, Recipe, RecipeError
from bench.runs.recipe_files import parse_overrides
from bench.store import Store
from bench.store.heartbeat import Heartbeat
from tests.helpers.plugins import temporary_plugins

REPO = Path(__file__).resolve().parents[2]

FAST = Recipe(epochs=3, batch_size=128, lr=3e-3)
FAILING = """
    import torch
    from bench import Method, Param, register_method

    @register_method("tmp-fails")
    class Fails(Method):
        parameters = {"what": Param("runtime"), "at_step": Param(2)}

        def loss(self, logits, labels, state=None):
            if state.step == self.at_step:
                if self.what == "interrupt":
                    raise KeyboardInterrupt
                if self.what == "nan":
                    return logits.sum() * float("nan")
                raise RuntimeError("boom at the third step")
            return torch.nn.functional.softplus(-logits * labels.float()).sum()
"""


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "runs.db")


def test_negative_on_scene_with_full_labels_learns(store):
    outcome = execute(RunConfig("negative", "scene", recipe=Recipe(epochs=10, lr=3e-3)), store, progress=False)
    record = outcome.record
    assert outcome.status == "done" and record.status == "done"
    assert record.metrics["map_c"] >= 60.0  # chance is about 18 on scene
    assert record.selection["policy"] == "val" and 1 <= record.selection["epoch"] <= 10
    assert record.dataset == "scene" and record.method == "negative" and record.evaluator == "partial"
    assert set(record.timings) == {"wall_s", "train_s", "eval_s"}
    assert record.cost["steps"] == 10 * 16 and record.cost["device"] == "cpu" and record.cost["peak_host_mb"] > 0
    assert record.env["python"] and record.class_names[0] == "Beach" and len(record.per_class_ap) == 6
    assert record.extra["train_rows"] + record.extra["val_rows"] == 1211
    test_labels = DATASETS.get("scene")().load().test.labels
    scores = record.test_scores()
    assert scores.dtype == np.float32 and scores.shape == (1196 * 6,)
    rescored = evaluate(scores, canonical_csr(test_labels))
    assert rescored.map_c == pytest.approx(record.metrics["map_c"], abs=1e-9)
    assert rescored.map_o == pytest.approx(record.metrics["map_o"], abs=1e-9)


def test_done_config_is_skipped_and_force_runs_again(store):
    config = RunConfig("negative", "scene+rpa[p=0.5]", recipe=FAST)
    first = execute(config, store, progress=False)
    second = execute(config, store, progress=False)
    assert second.status == "skipped" and second.record.id == first.record.id
    forced = execute(config, store, force=True, progress=False)
    assert forced.status == "done" and forced.record.id != first.record.id
    assert forced.record.metrics["map_c"] == first.record.metrics["map_c"]  # deterministic on CPU
    assert np.array_equal(forced.record.test_scores(), first.record.test_scores())
    assert len(store.runs()) == 2 and store.latest_done(first.record.config_hash).id == forced.record.id


def test_config_hash_covers_every_resolved_setting():
    base = resolve_config(RunConfig("negative", "scene+rpa[p=0.5]"))
    same = [RunConfig("negative[gamma_neg=0]", "scene+rpa[p=0.50]"),
            RunConfig("negative", "scene+rpa[p=0.5]", device="cpu")]
    for config in same:
        assert resolve_config(config).config_hash == base.config_hash
    different = [
        RunConfig("negative[reduction=mean]", "scene+rpa[p=0.5]"), RunConfig("ignore", "scene+rpa[p=0.5]"),
        RunConfig("negative", "scene+rpa[p=0.4]"), RunConfig("negative", "scene"),
        RunConfig("negative", "scene+rpa[p=0.5]", seed=1), RunConfig("negative", "scene+rpa[p=0.5]", split_seed=1),
        RunConfig("negative", "scene+rpa[p=0.5]", val_fraction=0.1),
        RunConfig("negative", "scene+rpa[p=0.5]", recipe=Recipe(epochs=29)),
        RunConfig("negative", "scene+rpa[p=0.5]", select_on="last"),
        RunConfig("negative", "scene+rpa[p=0.5]", evaluator="full"),
    ]
    hashes = {resolve_config(c).config_hash for c in different}
    assert len(hashes) == len(different) and base.config_hash not in hashes
    config = base.config
    assert config["method"]["params"]["gamma_neg"] == 0.0 and config["protocol"]["params"] == {"p": 0.5}
    assert len(config["method"]["source_hash"]) == 16 and config["recipe"]["epochs"] == Recipe.epochs
    assert config_hash(config) == base.config_hash


def test_changed_plugin_source_changes_the_hash(tmp_path, monkeypatch):
    with temporary_plugins(tmp_path, monkeypatch, {"methods/fails.py": FAILING}):
        before = resolve_config(RunConfig("tmp-fails", "scene")).config_hash
        path = tmp_path / "methods" / "fails.py"
        path.write_text(path.read_text() + "\n# a changed default would show here\n")
        assert resolve_config(RunConfig("tmp-fails", "scene")).config_hash != before


@pytest.mark.parametrize("what, reason", [("runtime", "RuntimeError: boom at the third step"),
                                          ("nan", "loss is nan at epoch 1, step 2")])
def test_errors_mid_run_leave_a_failed_record(tmp_path, monkeypatch, store, what, reason):
    with temporary_plugins(tmp_path, monkeypatch, {"methods/fails.py": FAILING}):
        with pytest.raises(RunFailed, match=reason) as info:
            execute(RunConfig(f"tmp-fails[what={what}]", "scene", recipe=FAST), store, progress=False)
    record = store.get_run(info.value.run_id)
    assert record.status == "failed" and reason in record.error and record.metrics is None


def test_ctrl_c_is_recorded_then_reraised(tmp_path, monkeypatch, store):
    with temporary_plugins(tmp_path, monkeypatch, {"methods/fails.py": FAILING}):
        with pytest.raises(KeyboardInterrupt):
            execute(RunConfig("tmp-fails[what=interrupt]", "scene", recipe=FAST), store, progress=False)
    (record,) = store.runs()
    assert record.status == "failed" and record.error == "interrupted"


def test_select_on_test_is_flagged(store):
    record = execute(RunConfig("negative", "scene", recipe=FAST, select_on="test"), store, progress=False).record
    assert record.selection["policy"] == "test" and record.extra["selected_on_test"] is True
    assert "test_map_c" in record.extra["history"][0]


def test_last_epoch_policy_without_validation(store):
    record = execute(RunConfig("negative", "scene", recipe=FAST, select_on="last", val_fraction=0.0), store,
                     progress=False).record
    assert record.selection == {"policy": "last", "epoch": 3, "lr": FAST.lr, "weight_decay": FAST.weight_decay,
                                "schedule": "onecycle", "stopped": "budget"} and record.extra["val_rows"] == 0
    assert record.extra["train_rows"] == 1211


@pytest.mark.parametrize("config, message", [
    (lambda: RunConfig("negative", "scene", mode="finetune"), "trains image backbones; dataset 'scene' has features"),
    (lambda: RunConfig("negative", "scene", val_fraction=0.0), "needs a validation split"),
    (lambda: RunConfig("negative", "scene", select_on="best"), "select_on must be one of"),
    (lambda: RunConfig("negative", "scene", evaluator="voc"), "evaluator must be one of"),
    (lambda: RunConfig("negative", "scene", recipe=Recipe(head="cnn")), "head must be one of"),
    (lambda: RunConfig("negative", "scene", recipe=Recipe(epochs=0)), "epochs must be >= 1"),
    (lambda: RunConfig("negative", "scene", device="tpu"), "device 'tpu'"),
    (lambda: RunConfig("negative", "scene", mode="nosuch"), "mode 'nosuch' is not available"),
])
def test_bad_options_raise_before_anything_is_stored(store, config, message):
    """Run options are checked by the runner (ConfigError), recipe fields when the recipe is built
    (RecipeError): both are input errors, raised before anything is stored."""
    with pytest.raises(InputError, match=message):
        execute(config(), store, progress=False)
    assert store.runs() == []


def test_heartbeat_thread_keeps_the_record_fresh(store):
    run_id = store.start_run(config={}, config_hash="h", method="m", dataset="d", seed=0, split_seed=0,
                             manifest_sha256="0" * 64, env={})
    first = store.get_run(run_id).heartbeat_at
    with Heartbeat(store.path, run_id, interval=0.05) as beat:
        time.sleep(0.6)
    assert beat.beats >= 2 and beat.error is None
    assert store.get_run(run_id).heartbeat_at > first
    store.fail_run(run_id, "test over")
    with Heartbeat(store.path, run_id, interval=0.05):  # a finished run is left alone
        time.sleep(0.2)
    assert store.get_run(run_id).status == "failed"


@pytest.mark.cuda
def test_cuda_run_matches_cpu(store):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    cpu = execute(RunConfig("negative", "scene", recipe=FAST), store, progress=False).record
    cuda = execute(RunConfig("negative", "scene", recipe=FAST, device="cuda"), store, force=True, progress=False).record
    assert cuda.cost["device"] == "cuda" and cuda.cost["peak_cuda_mb"] > 0 and cuda.env["device"]
    assert cuda.config_hash == cpu.config_hash
    assert cuda.metrics["map_c"] == pytest.approx(cpu.metrics["map_c"], abs=1.0)


def test_a_files_protocol_hashes_the_file_content(tmp_path):
    labels = np.load(REPO / "datasets" / "data" / "scene" / "scene.npz")["Y_train"].astype(np.int8)
    path = tmp_path / "partial.npy"
    np.save(path, np.where(labels == 1, 1, 0).astype(np.int8))
    selector = f"scene+files[path={path}]"
    first = resolve_config(RunConfig("negative", selector)).config_hash
    assert resolve_config(RunConfig("negative", selector)).config_hash == first
    edited = np.where(labels == 1, 1, 0).astype(np.int8)
    edited[0, 0] = -1
    np.save(path, edited)
    assert resolve_config(RunConfig("negative", selector)).config_hash != first
    with pytest.raises(ProtocolError, match="no file at"):
        resolve_config(RunConfig("negative", f"scene+files[path={tmp_path / 'absent.npy'}]"))


@pytest.mark.parametrize("args, message", [
    (["--set", "epochs=1e12"], "error: --set 'epochs=1e12': field 'epochs' must be int; got '1e12'"),
    (["--set", "epochs=3.0"], "error: --set 'epochs=3.0': field 'epochs' must be int; got '3.0'"),
    (["--set", "batch_size=6.4e1"], "error: --set 'batch_size=6.4e1': field 'batch_size' must be int"),
    (["--epochs", str(MAX_EPOCHS + 1)], f"error: epochs must be <= {MAX_EPOCHS}; got {MAX_EPOCHS + 1}"),
    (["--set", "epochs=1000000000000"], f"error: epochs must be <= {MAX_EPOCHS}; got 1000000000000"),
    (["--batch-size", str(2**40)], f"error: batch_size must be <= {MAX_BATCH_SIZE}; got {2**40}"),
    (["--seed", str(2**70)], f"error: seed must be an integer in [0, 2**63 - 1 = {MAX_SEED}]; got {2**70}"),
    (["--split-seed", str(2**63)], f"error: split_seed must be an integer in [0, 2**63 - 1 = {MAX_SEED}]"),
    (["--seed", "-1"], "error: seed must be an integer in [0, 2**63 - 1"),
    (["--lr", "inf"], "error: lr must be > 0 and finite; got inf"),
    (["--method", "p-asl[clip=2]"], "error: method 'p-asl': parameter 'clip' must be in [0, 1); got 2.0"),
    (["--dataset", "scene+rpa[p=1]"], "error: protocol 'rpa[p=1.0]' on "),
    (["--dataset", "scene+fpc[n_s=0]"], "error: protocol 'fpc[n_s=0]' on "),
])
def test_out_of_range_run_options_exit_2_with_one_line(tmp_path, args, message):
    """Before: --set epochs=1e12 ran as an integer, --seed 2**70 failed in SQLite (OverflowError), and
    rpa[p=1] / fpc[n_s=0] failed after training with an indirect message."""
    result = CliRunner().invoke(app, ["run", "--store", str(tmp_path / "runs.db"), "--quiet", *args])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(message), result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs.db").exists() or Store(tmp_path / "runs.db").runs() == []


def test_the_largest_seed_runs_and_is_stored(store):
    record = execute(RunConfig("negative", "scene", seed=MAX_SEED, split_seed=MAX_SEED, recipe=Recipe(epochs=1)),
                     store, progress=False).record
    assert (record.seed, record.split_seed) == (MAX_SEED, MAX_SEED) and record.status == "done"


@pytest.mark.parametrize("recipe, message", [
    (lambda: Recipe(epochs=MAX_EPOCHS + 1), f"epochs must be <= {MAX_EPOCHS}"),
    (lambda: Recipe(batch_size=MAX_BATCH_SIZE + 1), f"batch_size must be <= {MAX_BATCH_SIZE}"),
    (lambda: ImageRecipe(epochs=10**12), f"epochs must be <= {MAX_EPOCHS}"),
    (lambda: Recipe(hidden=2**40), "hidden must be <="),
    (lambda: Recipe(lr=float("nan")), "lr must be > 0 and finite"),
    (lambda: Recipe(weight_decay=float("inf")), "weight_decay must be >= 0 and finite"),
    (lambda: parse_overrides(["epochs=1e3"]), "field 'epochs' must be int; got '1e3'"),
    (lambda: parse_overrides(["hidden=+2.0"]), "field 'hidden' must be int"),
])
def test_recipe_maxima_and_integer_literals(recipe, message):
    with pytest.raises(RecipeError, match=message.replace("(", "\\(").replace(")", "\\)")):
        recipe()
    assert Recipe(epochs=MAX_EPOCHS, batch_size=MAX_BATCH_SIZE).epochs == MAX_EPOCHS
    assert parse_overrides(["epochs=+7", "batch_size= 32 ", "lr=1e-3"]) == {"epochs": 7, "batch_size": 32, "lr": 1e-3}
