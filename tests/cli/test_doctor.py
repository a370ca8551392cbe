"""``bench doctor``: the CPU path end to end (text and JSON), data-root checks, and CUDA where present."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from bench.cli.app import app
from bench.training.capabilities import device_report


def test_doctor_reports_the_cpu_path_and_writes_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BENCH_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.delenv("BENCH_DATA", raising=False)
    target = tmp_path / "doctor.json"
    result = CliRunner().invoke(app, [
        "doctor", "--data", "scene", "--data", "lvis", "--device", "cpu", "--seconds", "1", "--image-size", "32",
        "--backbone", "resnet18", "--batch-size", "4", "--json", str(target)])
    assert result.exit_code == 0, result.output
    report = json.loads(target.read_text())
    assert report["versions"]["torch"] == torch.__version__.split("+")[0]
    assert set(report["ddp"]) == {"distributed", "gloo", "nccl", "mpi"} and report["ddp"]["gloo"]
    assert all(report["cpu"][k]["ok"] for k in ("fp16_grad_scaler", "bf16", "channels_last"))
    checks = {c["selector"]: c for c in report["data"]["checks"]}
    assert checks["scene"]["ok"] and not checks["lvis"]["ok"]
    assert "bench data root lvis /path" in checks["lvis"]["reason"]
    test = report["self_test"]
    assert test["device"] == "cpu" and test["backbone"] == "resnet18" and test["image_size"] == 32
    assert test["images"] >= 4 and test["images_per_s"] > 0 and test["peak_host_mb"] > 0
    assert "self-test (finetune loop, resnet18 at 32 px, batch 4, cpu)" in result.output
    assert "--data lvis: FAILED" in result.output and f"wrote {target}" in result.output


def test_doctor_without_self_test_says_so(tmp_path: Path):
    result = CliRunner().invoke(app, ["doctor", "--no-self-test", "--json", str(tmp_path / "d.json")])
    assert result.exit_code == 0, result.output
    assert "self-test: skipped" in result.output
    assert "self_test" not in json.loads((tmp_path / "d.json").read_text())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_probes_pass_on_a_gpu():
    report = device_report("cuda:0")
    assert report["fp16"]["ok"] and report["fp16_grad_scaler"]["ok"] and report["channels_last"]["ok"]
    assert report["bf16"]["ok"] == report["bf16_supported"]
