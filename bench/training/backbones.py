"""Image backbones from timm, by name, with weights that never come from the network unasked.

``create_backbone(name, num_classes, pretrained)`` builds ``timm.create_model(name,
pretrained=False, num_classes=num_classes)`` (``num_classes=0``: the pooled feature extractor) and
then, by the value of ``pretrained``:

* ``None``: random initialisation from torch's global generator (the caller seeds it);
* a file path: a local checkpoint -- ``*.safetensors`` read with safetensors, anything else with
  ``torch.load(weights_only=True)``; a ``{"model": ...}`` / ``{"state_dict": ...}`` wrapper is
  unwrapped (CSL loads ``state['model']``, docs/methods.md §6) and a ``module.`` prefix (DDP)
  stripped. The classifier's tensors (timm's ``pretrained_cfg["classifier"]``, e.g. ``fc`` or
  ``head.fc``) are dropped, so the new head keeps its fresh initialisation; any other missing or
  unexpected tensor is an error naming the file;
* ``"hub"`` or ``"hub:<tag>"``: timm's own pretrained weights (``name.tag``), downloaded by timm --
  only ever when a user asks for it this way.

``BackboneWeights`` records the source, the file's sha256 and ``state_sha256``, the sha256 of the
built backbone's tensors (names, dtypes, shapes, bytes): the identity of the weights actually used,
random ones included.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

from bench.core.errors import InputError
from bench.core.hashing import file_sha256
from bench.core.params import suggest

HUB_PREFIX = "hub"
WRAPPER_KEYS = ("model", "state_dict", "model_state_dict")


class BackboneError(InputError):
    """An unknown backbone name or an unusable weights file."""


@dataclass(frozen=True)
class BackboneWeights:
    """Where a backbone's weights came from: ``source`` "random" | "file" | "hub"."""

    source: str
    path: str | None = None
    sha256: str | None = None
    hub_tag: str | None = None
    dropped: tuple[str, ...] = ()
    state_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "dropped": list(self.dropped)}


def state_sha256(model: nn.Module) -> str:
    """sha256 over the model's state dict in key order: each name, dtype, shape and the raw bytes."""
    digest = hashlib.sha256()
    for key, tensor in model.state_dict().items():
        value = tensor.detach().cpu().contiguous()
        digest.update(f"{key}|{value.dtype}|{tuple(value.shape)}|".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def weights_identity(pretrained: str | None) -> dict[str, Any]:
    """The part of a run's configuration naming its weights: the file's sha256 (not its path)."""
    if pretrained is None:
        return {"source": "random"}
    if pretrained == HUB_PREFIX or pretrained.startswith(HUB_PREFIX + ":"):
        return {"source": "hub", "tag": pretrained.partition(":")[2] or None}
    path = Path(pretrained)
    if not path.is_file():
        raise BackboneError(f"pretrained weights {pretrained}: no such file")
    return {"source": "file", "sha256": file_sha256(path)}


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure is the file's fault
        raise BackboneError(f"pretrained weights {path}: cannot be read ({type(exc).__name__}: {exc})") from None
    for key in WRAPPER_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BackboneError(f"pretrained weights {path}: not a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in state.items()}


def _is_classifier(key: str, classifiers: tuple[str, ...]) -> bool:
    return any(key == c or key.startswith(c + ".") for c in classifiers)


def load_weights(model: nn.Module, path: str | Path) -> tuple[str, ...]:
    """Load a local checkpoint into ``model`` without its classifier; return the dropped keys."""
    path = Path(path)
    state = _read_state(path)
    classifier = model.pretrained_cfg.get("classifier") if hasattr(model, "pretrained_cfg") else None
    classifiers = tuple(classifier) if isinstance(classifier, (list, tuple)) else ((classifier,) if classifier else ())
    dropped = tuple(sorted(k for k in state if _is_classifier(k, classifiers)))
    kept = {k: v for k, v in state.items() if k not in dropped}
    result = model.load_state_dict(kept, strict=False)
    missing = [k for k in result.missing_keys if not _is_classifier(k, classifiers)]
    if missing or result.unexpected_keys:
        problem = (f"lacks {len(missing)} tensor(s) of the model, first '{missing[0]}'" if missing else
                   f"has {len(result.unexpected_keys)} tensor(s) the model does not, "
                   f"first '{result.unexpected_keys[0]}'")
        raise BackboneError(f"pretrained weights {path}: {problem}; is it a checkpoint of this architecture?")
    return dropped


def check_backbone_name(name: str) -> None:
    """BackboneError (with the closest name) unless timm knows the model ``name``."""
    if not timm.is_model(name):
        raise BackboneError(f"unknown backbone '{name}'{suggest(name, timm.list_models())}: any timm model name")


def create_backbone(name: str, num_classes: int, pretrained: str | None = None) -> tuple[nn.Module, BackboneWeights]:
    """The timm model ``name`` with ``num_classes`` outputs (0: pooled features) and its weights'
    provenance (see the module docstring)."""
    check_backbone_name(name)
    if pretrained is not None and (pretrained == HUB_PREFIX or pretrained.startswith(HUB_PREFIX + ":")):
        tag = pretrained.partition(":")[2] or None
        model = timm.create_model(f"{name}.{tag}" if tag else name, pretrained=True, num_classes=num_classes)
        weights = BackboneWeights("hub", hub_tag=tag)
    else:
        model = timm.create_model(name, pretrained=False, num_classes=num_classes)
        if pretrained is None:
            weights = BackboneWeights("random")
        else:
            identity = weights_identity(pretrained)
            dropped = load_weights(model, pretrained)
            weights = BackboneWeights("file", path=str(pretrained), sha256=identity["sha256"], dropped=dropped)
    return model, replace(weights, state_sha256=state_sha256(model))
