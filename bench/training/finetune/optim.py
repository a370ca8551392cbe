"""The optimiser and learning-rate schedule of a finetune run, from its ``ImageRecipe``.

Optimiser: Adam with coupled L2 ``weight_decay`` on parameters with > 1 dimension only (the CSL
recipe's groups, ``bench.training.steps.adam_with_l2``). With ``classifier_lr_mult`` m != 1 the
classifier's parameters (timm's ``pretrained_cfg["classifier"]`` module, else ``get_classifier()``;
the bottleneck head when installed) train at m x lr and the rest at lr, as Large Loss Matters'
train.py (``{'params': feature_extractor_params, 'lr': lr}, {'params': linear_classifier_params,
'lr': lr_mult * lr}``, lr_mult 10). Groups, in order: backbone decayed, backbone not decayed,
classifier decayed, classifier not decayed.

Schedule, stepped once per batch: ``onecycle`` is ``OneCycleLR(max_lr=<each group's lr>,
pct_start)`` planned over ``schedule_epochs`` (default ``epochs``) x steps per epoch, so a run that
stops at ``epochs`` < ``schedule_epochs`` ends mid-cycle as Hill's train.py (OneCycle over 80
epochs, ``if epoch > Stop_epoch: break`` with Stop_epoch 30); ``constant`` keeps every group's lr
(no scheduler, as LL's and Cole et al.'s train.py).
"""
from __future__ import annotations

import torch
from torch import nn

from bench.runs.recipe import ImageRecipe
from bench.training.finetune.setup import FinetuneError
from bench.training.steps import adam_with_l2


def classifier_module(model: nn.Module) -> nn.Module:
    """The module that maps pooled features to logits (timm's ``pretrained_cfg["classifier"]``,
    else the model's ``get_classifier()``); ``FinetuneError`` when the model names none."""
    name = (getattr(model, "pretrained_cfg", None) or {}).get("classifier")
    if isinstance(name, str):
        try:
            return model.get_submodule(name)
        except AttributeError:
            pass
    if hasattr(model, "get_classifier"):
        found = model.get_classifier()
        if isinstance(found, nn.Module) and any(True for _ in found.parameters()):
            return found
    raise FinetuneError(f"classifier_lr_mult needs a model that names its classifier (timm's pretrained_cfg "
                        f"'classifier' or get_classifier()); {type(model).__name__} names none")


def finetune_optimizer(model: nn.Module, recipe: ImageRecipe) -> torch.optim.Adam:
    """Adam over the recipe's parameter groups (see the module docstring)."""
    if recipe.classifier_lr_mult == 1.0:
        return adam_with_l2(model, recipe.lr, recipe.weight_decay)
    head = {id(p) for p in classifier_module(model).parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = []
    for in_head, lr in ((False, recipe.lr), (True, recipe.lr * recipe.classifier_lr_mult)):
        part = [p for p in trainable if (id(p) in head) == in_head]
        groups += [{"params": [p for p in part if p.ndim > 1], "weight_decay": recipe.weight_decay, "lr": lr},
                   {"params": [p for p in part if p.ndim <= 1], "weight_decay": 0.0, "lr": lr}]
    return torch.optim.Adam(groups, lr=recipe.lr)


def _constant(step: int) -> float:
    return 1.0


def finetune_schedule(optimizer: torch.optim.Optimizer, recipe: ImageRecipe,
                      steps_per_epoch: int) -> torch.optim.lr_scheduler.LRScheduler:
    """The per-batch schedule of the recipe's ``lr_schedule`` (see the module docstring)."""
    if recipe.lr_schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, _constant)
    rates = [group["lr"] for group in optimizer.param_groups]
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=rates[0] if len(set(rates)) == 1 else rates,
        epochs=recipe.schedule_epochs or recipe.epochs, steps_per_epoch=steps_per_epoch, pct_start=recipe.pct_start)
