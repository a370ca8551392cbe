"""provenance.environment: versions, the bench checkout's git state, the machine; never raises."""
from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import bench
from bench.core import provenance

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git executable")


def git(repo, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A committed git repository standing in for the bench checkout."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "a.py").write_text("x = 1\n")
    (repo / ".gitignore").write_text("results/\n")
    git(repo, "add", "a.py", ".gitignore")
    git(repo, "commit", "-q", "-m", "first")
    monkeypatch.setattr(provenance, "ROOT", repo.resolve())
    return repo


def test_environment_reports_versions_and_machine():
    env = provenance.environment("cpu")
    assert env["python"] == platform.python_version()
    assert env["torch"] == torch.__version__ and env["torch_cuda"] == torch.version.cuda
    assert env["numpy"] == np.__version__ and env["bench"] == bench.__version__
    assert env["hostname"] == socket.gethostname() and env["cpu_count"] == os.cpu_count()
    assert env["platform"] == platform.platform() and env["device"] == "cpu"
    assert env["git_dirty"] in (True, False, None)


@needs_git
def test_git_commit_and_dirty_flag(checkout):
    head = git(checkout, "rev-parse", "HEAD")
    assert provenance.git_state() == (head, False)
    (checkout / "results").mkdir()
    (checkout / "results" / "bench.db").write_bytes(b"ignored")
    assert provenance.git_state() == (head, False), "ignored files do not make the checkout dirty"
    (checkout / "new_method.py").write_text("y = 2\n")
    assert provenance.git_state() == (head, True), "an untracked plugin file changes what runs compute"
    (checkout / "new_method.py").unlink()
    (checkout / "a.py").write_text("x = 2\n")
    assert provenance.git_state() == (head, True)
    env = provenance.environment()
    assert (env["git_commit"], env["git_dirty"]) == (head, True)


@needs_git
def test_not_a_checkout_gives_none(tmp_path, monkeypatch, checkout):
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setattr(provenance, "ROOT", plain)
    assert provenance.git_state() == (None, None)
    nested = checkout / "site-packages"
    nested.mkdir()
    monkeypatch.setattr(provenance, "ROOT", nested.resolve())
    assert provenance.git_state() == (None, None), "an installed copy inside another repository"


def test_missing_git_never_crashes(monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert provenance.git_state() == (None, None)
    env = provenance.environment()
    assert env["git_commit"] is None and env["git_dirty"] is None and env["python"] == platform.python_version()


def test_device_names():
    assert provenance.device_name("mps") is None
    cpu = provenance.device_name("cpu")
    if Path("/proc/cpuinfo").exists():
        assert cpu and f": {cpu}" in Path("/proc/cpuinfo").read_text()
    if torch.cuda.is_available():
        assert provenance.device_name("cuda:0") == torch.cuda.get_device_name(0)
    else:
        assert provenance.device_name("cuda") is None
