"""Four processes (gloo, CPU) make the updates of one process with the same global batch for the
batch-scoped rules: selective's K*B top-K and Large Loss Matters' k-th largest loss (issue 13 item 8).

A tiny linear head on random features, wrapped in DDP (``tests/helpers/global_batch.py``): process r
trains on rows ``j*4 + r`` of every global batch (the loader's strided shard), scales its loss by
``ddp_gradient_scale``, and after six Adam steps its weights, every step's global loss and the
selective coverage figures equal the single-process run's. In the sum-reduction cases one process has an
empty batch at step 3 (all its images unreadable) and the single process trains on the other rows.
"""
from __future__ import annotations

import multiprocessing

import pytest
import torch
from torch import nn

from bench.plugins.method import TrainState
from bench.runs.resolve import get_method
from bench.training.finetune.loop import ddp_gradient_scale
from bench.training.images.loader import shard
from tests.helpers.global_batch import BATCH, CASES, CLASSES, FEATURES, PRIOR, WORLD, data, train, worker


@pytest.fixture(scope="module")
def four_processes(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("ddp4")
    out = folder / "ddp.pt"
    scales = {selector: ddp_gradient_scale(get_method(selector), WORLD) for selector in CASES}
    context = multiprocessing.get_context("spawn")  # fork after torch ran threads can deadlock
    workers = [context.Process(target=worker, args=(r, str(folder / "rdv"), str(out), scales)) for r in range(WORLD)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=240)
    assert all(process.exitcode == 0 for process in workers)
    return torch.load(out, weights_only=False)


@pytest.mark.parametrize("selector", list(CASES))
def test_four_processes_make_the_updates_of_one(four_processes, selector):
    single, ddp = train(selector, 0, 1, 1.0), four_processes[selector]
    assert ddp["losses"] == pytest.approx(single["losses"], rel=1e-6, abs=1e-6)
    assert torch.allclose(ddp["weight"], single["weight"], rtol=0, atol=1e-6)
    assert torch.allclose(ddp["bias"], single["bias"], rtol=0, atol=1e-6)
    assert ddp["diagnostics"] == single["diagnostics"]  # the coverage of the global batch on every process
    torch.manual_seed(0)
    assert not torch.allclose(single["weight"], nn.Linear(FEATURES, CLASSES).weight, atol=1e-3)


def test_the_local_rule_would_differ():
    """The cases above can fail: ranking each process's rows alone (K*b per process, k of its own
    b*C entries) gives other masks on the same data."""
    features, labels = data()
    torch.manual_seed(0)
    model = nn.Linear(FEATURES, CLASSES)
    state = TrainState(epoch=3, artifacts={"class_prior": PRIOR}, num_classes=CLASSES)
    for selector in ("selective[likelihood_topk=2]", "ll-r[delta_rel=0.2]"):
        method = get_method(selector)
        with torch.no_grad():
            logits = model(features[:BATCH])
            whole = method.ignored_mask(logits, labels[:BATCH], state)
            parts = torch.zeros_like(whole)
            for rank in range(WORLD):
                parts[rank::WORLD] = method.ignored_mask(logits[rank::WORLD], labels[:BATCH][rank::WORLD], state)
        assert not torch.equal(whole, parts), selector


def test_the_loader_shard_is_the_interleaving_the_rules_assume():
    """Row j of process r's batch is row j*N + r of the single-process batch (``bench.plugins.batch``)."""
    order = torch.randperm(32)
    local_batch = BATCH // WORLD
    for step in range(32 // BATCH):
        single = order[step * BATCH:(step + 1) * BATCH]
        for rank in range(WORLD):
            local = shard(order, rank, WORLD, pad=True)[step * local_batch:(step + 1) * local_batch]
            assert torch.equal(local, single[rank::WORLD])
