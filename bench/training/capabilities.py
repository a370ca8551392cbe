"""What this machine can do for training, for ``bench doctor``: versions, CUDA devices, AMP,
channels_last and DDP backends. Every probe runs a real (tiny) operation and reports what happened;
none raises: a failed probe is recorded as False with its one-line reason."""
from __future__ import annotations

from importlib import metadata
from typing import Any

import torch

from bench.core.version import __version__

KEY_PACKAGES = ("torch", "torchvision", "timm", "numpy", "scipy", "pandas", "pyarrow", "scikit-learn",
                "pycocotools", "lvis", "ray", "tensorboard", "mlflow", "randaugment")


def versions() -> dict[str, str | None]:
    """bench's version and each key dependency's installed version (None: not installed)."""
    found: dict[str, str | None] = {"bench": __version__}
    for name in KEY_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def _probe(fn) -> dict[str, Any]:
    try:
        detail = fn()
    except Exception as exc:  # a probe reports, it never stops the doctor
        return {"ok": False, "reason": " ".join(f"{type(exc).__name__}: {exc}".split())}
    return {"ok": True, **(detail or {})}


def _autocast(device: str, dtype: torch.dtype) -> dict[str, Any]:
    """A matmul and a conv under autocast in ``dtype``, with a backward pass; the output's dtype."""
    x = torch.randn(4, 3, 16, 16, device=device, requires_grad=True)
    conv = torch.nn.Conv2d(3, 8, 3).to(device)
    with torch.autocast(device_type=device.split(":")[0], dtype=dtype):
        y = conv(x).flatten(1) @ torch.randn(8 * 14 * 14, 4, device=device)
    y.float().sum().backward()
    if y.dtype != dtype:
        raise RuntimeError(f"autocast produced {y.dtype}, not {dtype}")
    return {"dtype": str(dtype).replace("torch.", "")}


def _grad_scaler(device: str) -> dict[str, Any]:
    """One fp16 step through ``torch.amp.GradScaler`` (the official CSL recipe's AMP)."""
    model = torch.nn.Linear(8, 2).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler(device.split(":")[0])
    with torch.autocast(device_type=device.split(":")[0], dtype=torch.float16):
        loss = model(torch.randn(4, 8, device=device)).float().sum()
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return {"scale": float(scaler.get_scale())}


def _channels_last(device: str) -> dict[str, Any]:
    x = torch.randn(2, 3, 16, 16, device=device).to(memory_format=torch.channels_last)
    conv = torch.nn.Conv2d(3, 4, 3).to(device).to(memory_format=torch.channels_last)
    y = conv(x)
    return {"output_channels_last": bool(y.is_contiguous(memory_format=torch.channels_last))}


def device_report(device: str) -> dict[str, Any]:
    """AMP (fp16 with a GradScaler, bf16) and channels_last probes on ``device``."""
    report: dict[str, Any] = {"device": device}
    if device.startswith("cuda"):
        index = torch.device(device).index or 0
        props = torch.cuda.get_device_properties(index)
        report.update(name=props.name, capability=f"{props.major}.{props.minor}",
                      memory_gb=round(props.total_memory / 2**30, 1),
                      bf16_supported=bool(torch.cuda.is_bf16_supported()))
    report["fp16"] = _probe(lambda: _autocast(device, torch.float16))
    report["fp16_grad_scaler"] = _probe(lambda: _grad_scaler(device))
    report["bf16"] = _probe(lambda: _autocast(device, torch.bfloat16))
    report["channels_last"] = _probe(lambda: _channels_last(device))
    return report


def cuda_report() -> dict[str, Any]:
    """CUDA availability, the version torch was built for, and a ``device_report`` per device."""
    available = torch.cuda.is_available()
    count = torch.cuda.device_count() if available else 0
    return {"available": available, "built_for": torch.version.cuda, "device_count": count,
            "cudnn": torch.backends.cudnn.version() if available else None,
            "devices": [device_report(f"cuda:{i}") for i in range(count)]}


def ddp_backends() -> dict[str, bool]:
    """Which ``torch.distributed`` backends this build offers."""
    dist = torch.distributed
    if not dist.is_available():
        return {"distributed": False, "gloo": False, "nccl": False, "mpi": False}
    return {"distributed": True, "gloo": bool(dist.is_gloo_available()), "nccl": bool(dist.is_nccl_available()),
            "mpi": bool(dist.is_mpi_available())}
