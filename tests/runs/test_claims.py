"""Claiming a configuration before training it: concurrent runs of one configuration train it once
(the others wait, then skip; ``--force`` runs a new attempt), bad artifact files are refused before
anything is stored, and a Ctrl-C during a checkpoint write waits for the complete file."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from bench.cli.app import app
from bench.runs.prior import PriorFileError, read_prior_csv, write_prior_csv
from bench.store import Store
from bench.training.checkpoint import interrupts_deferred, save_atomic

BENCH = Path(sys.executable).with_name("bench")
ATTEMPT = dict(config={"x": 1}, config_hash="h" * 64, method="negative", dataset="scene", seed=0, split_seed=0,
               manifest_sha256="0" * 64, env={})


def test_a_claim_is_atomic_and_says_what_holds_the_configuration(tmp_path):
    store = Store(tmp_path / "runs.db")
    status, run_id = store.claim_run(**ATTEMPT)
    assert status == "claimed"
    busy, holder = store.claim_run(**ATTEMPT)
    assert busy == "busy" and holder.id == run_id
    forced, other = store.claim_run(force=True, **ATTEMPT)
    assert forced == "claimed" and other != run_id
    store.fail_run(other, "test over")
    store.fail_run(run_id, "interrupted")
    again, third = store.claim_run(**ATTEMPT)  # a failed attempt does not hold the configuration
    assert again == "claimed"
    store.finish_run(third, metrics={"map_c": 1.0}, per_class_ap=[], class_names=[], evaluator="partial",
                     selection={}, timings={}, cost={})
    done, record = store.claim_run(**ATTEMPT)
    assert done == "done" and record.id == third
    assert len(store.runs()) == 3


def test_a_dead_process_does_not_hold_its_claim(tmp_path):
    store = Store(tmp_path / "runs.db")
    _, run_id = store.claim_run(**ATTEMPT)
    with store._writing() as conn:  # the claiming process is gone: a pid that cannot exist here
        conn.execute("UPDATE runs SET pid = ? WHERE id = ?", (2**22 + 12345, run_id))
    assert store.claim_run(**ATTEMPT)[0] == "claimed"


def _bench(store: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "BENCH_STORE": str(store)}
    return subprocess.Popen([str(BENCH), "run", "--dataset", "scene", "--epochs", "40", "-q", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_four_processes_of_one_configuration_train_it_once(tmp_path):
    store = tmp_path / "runs.db"
    processes = [_bench(store) for _ in range(4)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    runs = Store(store).runs()
    assert [r.status for r in runs] == ["done"]
    stdout = "".join(out for out, _ in outputs)
    assert stdout.count("done: negative on scene") == 1 and stdout.count("skipped:") == 3
    forced = [_bench(store, "--force") for _ in range(2)]
    assert all(p.wait(timeout=300) == 0 for p in forced)
    assert [r.status for r in Store(store).runs()] == ["done"] * 3


@pytest.mark.parametrize("content, message", [
    (b"Classes,avg_pred\nBeach,0.2\n", r"missing 'Sunset'"),
    (b"Classes,avg_pred\nBeach,\xff\xfe\n", r"not UTF-8 text \(byte \d+ is 0xff\)"),
    (b"", r"expected the header 'Classes,avg_pred'"),
])
def test_a_bad_prior_file_is_refused_before_the_run_is_recorded(tmp_path, monkeypatch, content, message):
    monkeypatch.setenv("BENCH_STORE", str(tmp_path / "runs.db"))
    prior = tmp_path / "prior.csv"
    prior.write_bytes(content)
    result = CliRunner().invoke(app, ["run", "--method", "selective", "--dataset", "scene+rpa[p=0.5]",
                                      "--prior-path", str(prior), "--epochs", "2"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(prior) in lines[0]
    assert not (tmp_path / "runs.db").exists() or Store(tmp_path / "runs.db").runs() == []
    with pytest.raises(PriorFileError, match=message):
        read_prior_csv(prior, ["Beach", "Sunset"])


def test_a_prior_file_with_a_bom_reads(tmp_path):
    path = tmp_path / "prior.csv"
    write_prior_csv(path, ["a", "b"], [0.25, 0.5])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert list(read_prior_csv(path, ["a", "b"])) == [0.25, 0.5]


class InterruptsWhilePickled:
    """An object whose pickling delivers SIGINT to this process: a Ctrl-C inside torch.save."""

    def __reduce__(self):
        os.kill(os.getpid(), signal.SIGINT)
        return (dict, ())


def test_a_ctrl_c_during_a_checkpoint_write_waits_for_the_complete_file(tmp_path):
    path = tmp_path / "last.pt"
    payload = {"weights": torch.arange(10_000.0), "interrupt": InterruptsWhilePickled()}
    with pytest.raises(KeyboardInterrupt):
        save_atomic(payload, path)
    loaded = torch.load(path, weights_only=False)
    assert torch.equal(loaded["weights"], payload["weights"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temporary file left


def test_deferred_interrupts_are_raised_once_the_block_ends():
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            reached.append("after the signal")
    assert reached == ["after the signal"]
