"""Executor selection and sizing, and the one-line errors for executors that cannot be used."""
from __future__ import annotations

import sys

import pytest
import torch

from bench.sweep.executors import ExecutorError, LocalExecutor, make_executor, start_method, usable_cpus


def test_local_pool_is_sized_to_the_machine():
    assert LocalExecutor().slots == usable_cpus()
    assert LocalExecutor(cpus_per_cell=usable_cpus() * 2).slots == 1
    assert LocalExecutor(workers=3).slots == 3
    with pytest.raises(ExecutorError, match="--workers must be >= 1"):
        LocalExecutor(workers=0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="start methods differ off Linux")
def test_cuda_cells_never_fork_from_the_driver():
    assert start_method(uses_cuda=False) == "fork"
    assert start_method(uses_cuda=True) == "forkserver"
    assert LocalExecutor(uses_cuda=True).method == "forkserver"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without GPUs")
def test_gpus_per_cell_without_gpus():
    with pytest.raises(ExecutorError, match="cells ask for 1 GPU"):
        LocalExecutor(gpus_per_cell=1)


def test_unusable_executors_fail_with_one_line(monkeypatch):
    with pytest.raises(ExecutorError, match="unknown executor 'dask'; known: local, ray"):
        make_executor("dask")
    with pytest.raises(ExecutorError, match="--address is for the ray executor"):
        make_executor("local", address="auto")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the optional extra were not installed
    with pytest.raises(ExecutorError, match=r"pip install 'bench\[ray\]'"):
        make_executor("ray", address="auto")
