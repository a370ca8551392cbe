"""CPU threads of a linear run: one for small heads, every thread torch has for OpenImages-scale
heads, and the count is recorded in the run's cost."""
from __future__ import annotations

import torch

from bench.runs.config import RunConfig
from bench.runs.execute import execute
from bench.runs.recipe import Recipe
from bench.store import Store
from bench.training.linear_mode import PARALLEL_HEAD_WEIGHTS, cpu_threads


def test_small_heads_train_on_one_thread_large_ones_on_all():
    assert cpu_threads(6, 294) == 1  # scene
    assert cpu_threads(80, 64) == 1  # coco-sim
    assert cpu_threads(9600, 128) == torch.get_num_threads() and 9600 * 128 >= PARALLEL_HEAD_WEIGHTS


def test_the_thread_count_is_recorded_and_restored(tmp_path):
    before = torch.get_num_threads()
    record = execute(RunConfig("negative", "scene", recipe=Recipe(epochs=1)), Store(tmp_path / "b.db"),
                     progress=False).record
    assert record.cost["cpu_threads"] == 1 and torch.get_num_threads() == before
