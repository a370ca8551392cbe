"""Imported once by the local executor's fork server: every cell process forked from it then starts
with torch, the engine, the sweep worker and the discovered plugins already in memory.

Building a first optimizer imports most of ``torch._dynamo`` (seconds); doing it once here instead
of in every cell is most of what the fork server saves.
"""
from __future__ import annotations

import torch

from bench.plugins.registry import discover
from bench.sweep import worker  # noqa: F401 - imported for the processes forked from here

discover()
torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
