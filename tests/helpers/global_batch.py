"""The workers of ``tests/training/test_ddp_global_batch.py``: a tiny linear head trained on its
process's rows of every global batch (kept apart so the spawned processes import little)."""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from bench.plugins.method import TrainState
from bench.runs.resolve import get_method

WORLD, BATCH, STEPS, FEATURES, CLASSES = 4, 8, 6, 5, 7
PRIOR = [0.01, 0.2, 0.03, 0.5, 0.04, 0.9, 0.02]
EMPTY_STEP, EMPTY_RANK = 2, 3  # sum cases: process 3 has no readable image at step 2 (the others go on)
CASES = {  # selector -> what it exercises
    "selective[likelihood_topk=2]": "K*B top-K over the global batch, prior rule on 3 classes",
    "selective[likelihood_topk=1,clip=0.3,prior_threshold=none]": "ties at q = 1, broken in global flat order",
    "selective[likelihood_topk=1,reduction=mean,variant=likelihood]": "mean reduction",
    "ll-r[delta_rel=0.2]": "k-th largest loss over the global batch (mean)",
    "ll-ct[delta_rel=0.3,reduction=sum]": "temporary correction, sum reduction",
}


def data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(5)
    features = torch.randn(BATCH * STEPS, FEATURES, generator=generator)
    labels = torch.randint(-1, 2, (BATCH * STEPS, CLASSES), generator=generator).to(torch.int8)
    labels[torch.rand(labels.shape, generator=generator) < 0.4] = 0  # about 60% un-annotated
    return features, labels


def train(selector: str, rank: int, world: int, scale: float) -> dict:
    """Six steps of the method on this process's rows (``world`` 1: the whole global batch); the
    weights, every step's global loss and the diagnostics."""
    features, labels = data()
    torch.manual_seed(0)
    model = nn.Linear(FEATURES, CLASSES)
    forward = DistributedDataParallel(model) if world > 1 else model
    method = get_method(selector)
    method.start_run()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    state = TrainState(epoch=3, artifacts={"class_prior": PRIOR}, num_classes=CLASSES)
    losses = []
    for step in range(STEPS):
        batch, keep = torch.arange(step * BATCH, (step + 1) * BATCH), torch.ones(BATCH, dtype=torch.bool)
        if step == EMPTY_STEP and method.params["reduction"] == "sum":
            keep[EMPTY_RANK::WORLD] = False
        rows = batch[rank::world][keep[rank::world]]
        state.step = step
        logits = forward(features[rows])
        loss = method.loss(logits, labels[rows], state)
        if rows.numel() == 0:  # as the finetune loop: the method takes part, the loss is zero
            loss = logits.sum() * 0.0
        optimizer.zero_grad()
        (loss * scale).backward()
        optimizer.step()
        total = loss.detach().clone()
        if world > 1:
            dist.all_reduce(total)
        losses.append(float(total) / (world if method.params["reduction"] == "mean" else 1))
    return {"weight": model.weight.detach().clone(), "bias": model.bias.detach().clone(), "losses": losses,
            "diagnostics": method.run_diagnostics()}


def worker(rank: int, rendezvous: str, out: str, scales: dict[str, float]) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=WORLD)
    try:
        results = {selector: train(selector, rank, WORLD, scales[selector]) for selector in CASES}
        if rank == 0:
            torch.save(results, out)
    finally:
        dist.destroy_process_group()
