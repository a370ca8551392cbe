"""What a finetune run's ``last.pt`` holds, and putting it back (``bench.training.finetune.loop``).

``snapshot`` captures everything the next epoch depends on: the raw and EMA weights, the optimiser,
schedule and GradScaler states, the run's label store (methods may change labels), the history,
the unreadable images found so far, the step count and the time and images spent. Random draws need
no saving: every epoch reseeds them from (seed, epoch). ``restore`` loads a snapshot into a freshly
built trainer so that training continues with the epoch after it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from bench.training.finetune.loop import Trainer


def cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of ``module``'s state dict on the CPU."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def snapshot(trainer: Trainer, epoch: int) -> dict[str, Any]:
    """The state after ``epoch`` (tensors, dicts, lists and numbers: loadable with ``weights_only``)."""
    setup = trainer.setup
    return {
        "epoch": epoch, "step": trainer.step, "model": cpu_state(trainer.model),
        "ema": cpu_state(trainer.ema.module) if trainer.ema is not None else None,
        "optimizer": trainer.optimizer.state_dict(), "schedule": trainer.schedule.state_dict(),
        "scaler": trainer.scaler.state_dict(), "label_store": setup.label_store.state_dict(),
        "history": trainer.history,
        "bad_train": dict(setup.train_bad.found),
        "bad_monitor": dict(setup.monitor.bad.found) if setup.monitor is not None else {},
        "train_seconds": trainer.train_seconds, "eval_seconds": trainer.eval_seconds,
        "images_seen": trainer.images_seen,
        "trainable_state": trainer.table.detach().to("cpu", copy=True) if trainer.table is not None else None,
    }


def restore(trainer: Trainer, payload: dict[str, Any]) -> int:
    """Load a ``snapshot`` into ``trainer``; return the epoch to train next."""
    setup = trainer.setup
    trainer.model.load_state_dict(payload["model"])
    if trainer.ema is not None:
        trainer.ema.module.load_state_dict(payload["ema"])
    if trainer.table is not None:
        with torch.no_grad():
            trainer.table.copy_(payload["trainable_state"])
    trainer.optimizer.load_state_dict(payload["optimizer"])
    trainer.schedule.load_state_dict(payload["schedule"])
    trainer.scaler.load_state_dict(payload["scaler"])
    setup.label_store.load_state_dict(payload["label_store"])
    setup.train_bad.merge(payload["bad_train"])
    if setup.monitor is not None:
        setup.monitor.bad.merge(payload["bad_monitor"])
    trainer.history = list(payload["history"])
    trainer.step, trainer.images_seen = int(payload["step"]), int(payload["images_seen"])
    trainer.train_seconds, trainer.eval_seconds = float(payload["train_seconds"]), float(payload["eval_seconds"])
    return int(payload["epoch"]) + 1
