"""``bench doctor``: what this machine can do, as plain text and one JSON file for bug reports.

It prints the versions of bench and its key dependencies, CUDA and its devices with AMP (fp16 with
a GradScaler, bf16) and channels_last probes, the DDP backends, the user's data roots
(``bench data root``, ``$BENCH_DATA``) and whether each ``--data`` selector's root resolves, then a
self-test of the finetune loop on synthetic images (``bench.training.selftest``) on CUDA when
present, else on the CPU.
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import typer

from bench.cli.common import out
from bench.core.errors import BenchError, writing


def _data_report(selectors: list[str]) -> dict[str, Any]:
    from bench.core.user_config import data_roots, user_config_path
    from bench.runs.data_roots import require_root
    from bench.runs.resolve import resolve_dataset

    checks = []
    for selector in selectors:
        try:
            plugin = resolve_dataset(selector).plugin
            require_root(plugin)
            checks.append({"selector": selector, "ok": True, "root": plugin.params.get("root")})
        except BenchError as exc:
            checks.append({"selector": selector, "ok": False, "reason": exc.one_line()})
    return {"user_config": str(user_config_path()), "stored_roots": data_roots(),
            "BENCH_DATA": os.environ.get("BENCH_DATA"), "checks": checks}


def _probe_line(name: str, probe: dict[str, Any]) -> str:
    return f"  {name}: ok" if probe.get("ok") else f"  {name}: FAILED ({probe.get('reason')})"


def _print(report: dict[str, Any]) -> None:
    lines = ["bench doctor", f"python {report['python']} on {report['platform']}", "versions:"]
    lines += [f"  {k}: {v or 'not installed'}" for k, v in report["versions"].items()]
    cuda = report["cuda"]
    lines.append(f"CUDA: {'available' if cuda['available'] else 'not available'} (torch built for "
                 f"{cuda['built_for'] or 'CPU only'}), {cuda['device_count']} device(s)")
    for device in [report["cpu"], *cuda["devices"]]:
        name = device["device"] + (f" {device['name']} (sm {device['capability']}, {device['memory_gb']} GB)"
                                   if "name" in device else "")
        lines.append(f"device {name}:")
        lines += [_probe_line(k, device[k]) for k in ("fp16", "fp16_grad_scaler", "bf16", "channels_last")]
    lines.append("DDP backends: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in report["ddp"].items()))
    data = report["data"]
    lines.append(f"data roots ({data['user_config']}; BENCH_DATA={data['BENCH_DATA'] or 'unset'}):")
    lines += [f"  {k}: {v}" for k, v in data["stored_roots"].items()] or ["  none stored"]
    for check in data["checks"]:
        if not check["ok"]:
            lines.append(f"  --data {check['selector']}: FAILED: {check['reason']}")
        else:
            root = check["root"] or "none needed (the plugin's default)"
            lines.append(f"  --data {check['selector']}: ok, root {root}")
    test = report.get("self_test")
    if test is None:
        lines.append("self-test: skipped (--no-self-test)")
    elif "reason" in test:
        lines.append(f"self-test: FAILED: {test['reason']}")
    else:
        peak = f", peak CUDA {test['peak_cuda_mb']:.0f} MiB" if test.get("peak_cuda_mb") else ""
        lines.append(f"self-test (finetune loop, {test['backbone']} at {test['image_size']} px, batch "
                     f"{test['batch_size']}, {test['device']}): {test['images_per_s']:.1f} images/s over "
                     f"{test['images']} images, peak host {test['peak_host_mb']:.0f} MiB{peak}, "
                     f"{test['seconds']:.0f} s")
    for line in lines:
        out.print(line, markup=False, highlight=False)


def doctor(
    data: list[str] = typer.Option([], "--data", help="dataset selector whose root must resolve (repeatable)"),
    json_out: Path = typer.Option(Path("bench-doctor.json"), "--json", help="where the JSON report is written"),
    self_test: bool = typer.Option(True, "--self-test/--no-self-test", help="run the finetune self-test"),
    seconds: float = typer.Option(30.0, min=1.0, help="self-test budget in seconds (about)"),
    image_size: int = typer.Option(448, min=8, help="self-test image size"),
    backbone: str | None = typer.Option(None, help="self-test backbone (default: the finetune recipe's)"),
    batch_size: int | None = typer.Option(None, min=1, help="self-test batch (default: the recipe's, 8 on CPU)"),
    device: str | None = typer.Option(None, help="self-test device (default: cuda when present, else cpu)"),
) -> None:
    """Print what this machine can do (versions, CUDA, AMP, DDP, data roots, a finetune self-test)."""
    from bench.training.capabilities import cuda_report, ddp_backends, device_report, versions

    cuda = cuda_report()
    report: dict[str, Any] = {
        "python": platform.python_version(), "platform": platform.platform(), "versions": versions(),
        "cuda": cuda, "cpu": device_report("cpu"), "ddp": ddp_backends(), "data": _data_report(data),
    }
    if self_test:
        from bench.training.selftest import finetune_self_test

        where = device or ("cuda" if cuda["available"] else "cpu")
        overrides: dict[str, Any] = {"batch_size": batch_size or (8 if where == "cpu" else None),
                                     "backbone": backbone}
        try:
            report["self_test"] = finetune_self_test(where, seconds, image_size,
                                                     {k: v for k, v in overrides.items() if v is not None})
        except BenchError as exc:
            report["self_test"] = {"device": where, "reason": exc.one_line()}
    _print(report)
    with writing(json_out):
        json_out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    out.print(f"wrote {json_out}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Mount ``bench doctor`` on the bench CLI."""
    app.command("doctor", epilog="Example: bench doctor --data lvis --json doctor.json")(doctor)
