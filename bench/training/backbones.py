"""Image backbones from timm, by name, with weights that never come from the network unasked.

``create_backbone(name, num_classes, pretrained)`` builds ``timm.create_model(name,
pretrained=False, num_classes=num_classes)`` (``num_classes=0``: the pooled feature extractor) and
then, by the value of ``pretrained``:

* ``None``: random initialisation from torch's global generator (the caller seeds it);
* a file path: a local checkpoint -- ``*.safetensors`` read with safetensors, anything else with
  ``torch.load(weights_only=True)``; a ``{"model": ...}`` / ``{"state_dict": ...}`` wrapper is
  unwrapped (CSL loads ``state['model']``, docs/methods.md §6) and a ``module.`` prefix (DDP)
  stripped. Then the model family's timm ``checkpoint_filter_fn`` is applied, as timm does for its
  own weights: it converts a checkpoint in the original authors' layout (e.g. the official TResNet
  files such as ``mtresnet_21k``: ``conv1.0`` / ``conv1.1`` InPlaceABN keys become timm's
  ``conv1.conv`` / ``conv1.bn``, with the ABN weight mapped to ``|w| + 1e-5``) and leaves a timm
  checkpoint as it is. The classifier's tensors (timm's ``pretrained_cfg["classifier"]``, e.g.
  ``fc`` or ``head.fc``) are dropped, so the new head keeps its fresh initialisation; any other
  missing or unexpected tensor is an error naming the file;
* ``"timm:<model>.<tag>"`` (e.g. ``timm:tresnet_m.miil_in21k``, the ImageNet-21k TResNet-M the
  CSL paper starts from): timm's pretrained weights of that name, read offline from the local
  Hugging Face (or torch hub) cache and loaded as a file; ``<model>`` must be the backbone. When they
  are not cached the run stops and says how to get them -- nothing is downloaded. The run's
  configuration names them (``{"source": "timm", "name": ...}``, checked against timm's list, so a
  dry run needs no cache); the record holds the file's sha256;
* ``"hub"`` or ``"hub:<tag>"``: timm's own pretrained weights (``name.tag``), downloaded by timm --
  only ever when a user asks for it this way (the explicit opt-in; afterwards ``timm:`` finds them).

``BackboneWeights`` records the source, the file's sha256 and ``state_sha256``, the sha256 of the
built backbone's tensors (names, dtypes, shapes, bytes): the identity of the weights actually used,
random ones included. ``converted`` names the filter when it changed the checkpoint's keys.
"""
from __future__ import annotations

import hashlib
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

from bench.core.hashing import file_sha256
from bench.core.params import suggest
from bench.training.heads import BottleneckHead
from bench.training.timm_weights import TIMM_PREFIX, BackboneError, check_timm_weights_name, timm_weights_file

HUB_PREFIX = "hub"
WRAPPER_KEYS = ("model", "state_dict", "model_state_dict")


@dataclass(frozen=True)
class BackboneWeights:
    """Where a backbone's weights came from: ``source`` "random" | "file" | "hub"."""

    source: str
    path: str | None = None
    sha256: str | None = None
    hub_tag: str | None = None
    dropped: tuple[str, ...] = ()
    state_sha256: str | None = None
    converted: str | None = None

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
    if pretrained.startswith(TIMM_PREFIX):  # timm's published weights, by name (the file is read at run time)
        name = pretrained.removeprefix(TIMM_PREFIX)
        check_timm_weights_name(name)
        return {"source": "timm", "name": name}
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


def family_filter(state: dict[str, torch.Tensor], model: nn.Module,
                  path: Path) -> tuple[dict[str, torch.Tensor], str | None]:
    """``state`` through the model family's timm ``checkpoint_filter_fn`` (original-author layouts to
    timm's); the filter's name when it changed any key, else None."""
    module = sys.modules.get(type(model).__module__)
    convert = getattr(module, "checkpoint_filter_fn", None)
    if convert is None:
        return state, None
    try:
        converted = convert(state, model)
    except Exception as exc:  # noqa: BLE001 - a filter that fails means a file of another layout
        raise BackboneError(f"pretrained weights {path}: timm's {module.__name__}.checkpoint_filter_fn cannot convert "
                            f"it ({type(exc).__name__}: {exc}); is it a checkpoint of this architecture?") from None
    changed = set(converted) != set(state)
    return converted, f"{module.__name__}.checkpoint_filter_fn" if changed else None


def load_weights(model: nn.Module, path: str | Path) -> tuple[tuple[str, ...], str | None]:
    """Load a local checkpoint into ``model`` without its classifier (converted by ``family_filter``);
    return the dropped keys and the converting filter's name (None: loaded as written)."""
    path = Path(path)
    state, converted = family_filter(_read_state(path), model, path)
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
    return dropped, converted


def weights_notes(backbone: str, source: str) -> list[str]:
    """The run notes (a record's ``extra["notes"]``) about a backbone's start: one when it is random."""
    if source != "random":
        return []
    return [f"backbone {backbone} started from random weights (no pretrained checkpoint): expect near-chance "
            "mAP on small data"]


def check_backbone_name(name: str) -> None:
    """BackboneError (with the closest name) unless timm knows the model ``name``."""
    if not timm.is_model(name):
        raise BackboneError(f"unknown backbone '{name}'{suggest(name, timm.list_models())}: any timm model name")


def install_bottleneck_head(model: nn.Module, num_classes: int, features: int) -> None:
    """Replace the model's linear classifier (timm's ``pretrained_cfg["classifier"]``) with the official
    ``BottleneckHead(F, num_classes, features)`` (``bench.training.heads``)."""
    name = (getattr(model, "pretrained_cfg", None) or {}).get("classifier")
    current = model.get_submodule(name) if isinstance(name, str) else None
    if num_classes < 1 or not isinstance(current, nn.Linear):
        raise BackboneError(f"classifier 'bottleneck' needs a backbone with one linear classifier and classes "
                            f"(got classifier {name!r}, {num_classes} classes)")
    parent, _, attribute = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, attribute,
            BottleneckHead(current.in_features, num_classes, features))


def create_backbone(name: str, num_classes: int, pretrained: str | None = None, classifier: str = "linear",
                    bottleneck_dim: int = 512) -> tuple[nn.Module, BackboneWeights]:
    """The timm model ``name`` with ``num_classes`` outputs (0: pooled features) and its weights'
    provenance (see the module docstring); ``classifier="bottleneck"`` then swaps the classifier for
    the official OpenImages head (``install_bottleneck_head``), drawn after the weights are loaded."""
    check_backbone_name(name)
    if pretrained is not None and (pretrained == HUB_PREFIX or pretrained.startswith(HUB_PREFIX + ":")):
        tag = pretrained.partition(":")[2] or None
        model = timm.create_model(f"{name}.{tag}" if tag else name, pretrained=True, num_classes=num_classes)
        weights = BackboneWeights("hub", hub_tag=tag)
    else:
        path, tag = (Path(pretrained), None) if pretrained is not None else (None, None)
        if pretrained is not None and pretrained.startswith(TIMM_PREFIX):
            path, tag = _timm_file_for(name, pretrained.removeprefix(TIMM_PREFIX))
        elif path is not None and not path.is_file():
            raise BackboneError(f"pretrained weights {pretrained}: no such file")
        model = timm.create_model(name, pretrained=False, num_classes=num_classes)
        if path is None:
            weights = BackboneWeights("random")
        else:
            dropped, converted = load_weights(model, path)
            weights = BackboneWeights("timm" if tag else "file", path=str(path), sha256=file_sha256(path),
                                      hub_tag=tag, dropped=dropped, converted=converted)
    if classifier == "bottleneck":
        install_bottleneck_head(model, num_classes, bottleneck_dim)
    return model, replace(weights, state_sha256=state_sha256(model))


def _timm_file_for(backbone: str, name: str) -> tuple[Path, str]:
    model, _, tag = name.partition(".")
    if model != backbone:
        raise BackboneError(f"pretrained '{TIMM_PREFIX}{name}' are weights of '{model}', not of the backbone "
                            f"'{backbone}'")
    return timm_weights_file(name), tag
