"""timm's published weights by name, found offline: ``timm:<model>.<tag>`` in a recipe's
``pretrained`` (``bench.training.backbones``).

``timm_weights_file(name)`` is the file timm itself would load for ``name`` once downloaded: the
Hugging Face cache entry of the model's ``hf_hub_id`` (``model.safetensors``, else
``pytorch_model.bin``, or the configured ``hf_hub_filename``), the configured local ``file``, or
torch hub's ``checkpoints/<basename of url>``. Nothing here downloads: a missing file is a
``BackboneError`` that says how to fetch it once (``pretrained=hub:<tag>``, timm's own download).
"""
from __future__ import annotations

from pathlib import Path

import timm
import torch

from bench.core.errors import InputError
from bench.core.params import suggest

TIMM_PREFIX = "timm:"


class BackboneError(InputError):
    """An unknown backbone name or an unusable weights file."""


def cached_files(name: str) -> list[Path]:
    """Where timm's pretrained weights ``name`` would be on this machine, cached or not."""
    cfg = timm.models.get_pretrained_cfg(name)
    candidates = []
    if cfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache
        from huggingface_hub.constants import HF_HUB_CACHE

        repo = cfg.hf_hub_id.split("@")[0]
        for filename in ([cfg.hf_hub_filename] if cfg.hf_hub_filename else ["model.safetensors", "pytorch_model.bin"]):
            found = try_to_load_from_cache(repo, filename)
            where = Path(HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}" / "snapshots" / "<revision>" / filename
            candidates.append(Path(found) if isinstance(found, str) else where)
    if cfg.file:
        candidates.append(Path(cfg.file))
    if cfg.url:
        candidates.append(Path(torch.hub.get_dir()) / "checkpoints" / Path(cfg.url).name)
    return candidates


def check_timm_weights_name(name: str) -> None:
    """BackboneError (with the closest names) unless timm publishes weights ``name`` ("<model>.<tag>")."""
    if "." not in name or not timm.models.is_model_pretrained(name):
        known = timm.list_pretrained(name.partition(".")[0] + "*")
        raise BackboneError(f"pretrained '{TIMM_PREFIX}{name}': timm has no weights of that name{suggest(name, known)}"
                            "; write timm:<model>.<tag>, e.g. timm:tresnet_m.miil_in21k")


def timm_weights_file(name: str) -> Path:
    """The local file of timm's pretrained weights ``name`` ("<model>.<tag>"); BackboneError (saying
    how to get it) when timm does not know it or it is not cached. Never downloads."""
    check_timm_weights_name(name)
    candidates = cached_files(name)
    for path in candidates:
        if path.is_file():
            return path
    tag = name.partition(".")[2]
    raise BackboneError(
        f"pretrained '{TIMM_PREFIX}{name}': not in this machine's cache (looked for "
        f"{', '.join(str(p) for p in candidates) or 'no file'}); bench never downloads unasked: run once "
        f"with pretrained=hub:{tag} (timm downloads them), or give a checkpoint file's path")
