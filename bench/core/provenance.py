"""Provenance of a run: software versions, the bench checkout's git state, the machine.

``environment(device)`` never raises: a value that cannot be found is None (no git, not a git
checkout, no CUDA). The git state is that of the checkout holding this ``bench`` package, and only
when that folder is the top of its own git work tree (an installed copy inside some other
repository must not report that repository's commit).
"""
from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

from bench.core.version import __version__

ROOT = Path(__file__).resolve().parents[2]
GIT_TIMEOUT_S = 10.0


def _git(*args: str) -> str | None:
    """stdout of ``git -C ROOT args`` stripped, or None when git fails or is missing."""
    try:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state() -> tuple[str | None, bool | None]:
    """(HEAD commit, dirty) of the bench checkout; (None, None) when it is not a git checkout.

    Dirty means ``git status --porcelain`` lists anything: modified, staged or untracked
    (not ignored) files, since an uncommitted plugin file changes what a run computes.
    """
    top = _git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != ROOT:
        return None, None
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain")
    return commit, (None if status is None else bool(status))


def _torch_versions() -> tuple[str | None, str | None]:
    """(torch version with its build tag, e.g. "2.14.1+cu130"; CUDA version it was built for)."""
    try:
        import torch
    except ImportError:
        return None, None
    return str(torch.__version__), torch.version.cuda


def _cpu_name() -> str | None:
    """The CPU model from /proc/cpuinfo (Linux), else ``platform.processor()``, else None."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def device_name(device: str) -> str | None:
    """A readable name of ``device``: the GPU name for "cuda[:i]", the CPU model for "cpu"."""
    if device.startswith("cuda"):
        try:
            import torch

            if torch.cuda.is_available():
                return torch.cuda.get_device_name(torch.device(device))
        except (ImportError, RuntimeError, AssertionError, ValueError):
            return None
        return None
    if device == "cpu":
        return _cpu_name()
    return None


def environment(device: str = "cpu") -> dict:
    """What produced a run: ``python``, ``torch`` (+ ``torch_cuda``), ``numpy``, ``bench``, ``git_commit``,
    ``git_dirty``, ``platform``, ``hostname``, ``cpu_count``, ``device`` and ``device_name``.
    """
    commit, dirty = git_state()
    torch_version, torch_cuda = _torch_versions()
    return {
        "python": platform.python_version(),
        "python_implementation": sys.implementation.name,
        "torch": torch_version,
        "torch_cuda": torch_cuda,
        "numpy": np.__version__,
        "bench": __version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "device": device,
        "device_name": device_name(device),
    }
