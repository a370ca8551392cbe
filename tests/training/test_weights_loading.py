"""Pretrained weights: the official TResNet layout (``mtresnet_21k``) through timm's checkpoint filter,
and timm's named weights (``timm:<model>.<tag>``) from the local cache only."""
from __future__ import annotations

import hashlib
import re

import huggingface_hub
import pytest
import timm
import torch
from huggingface_hub import constants
from safetensors.torch import save_file
from timm.models.tresnet import TResNet

from bench.training.backbones import BackboneError, create_backbone, load_weights, weights_identity

ABN_EPSILON = 1e-5  # timm's filter: batch-norm weight = |InPlaceABN weight| + 1e-5


def _official_key(key: str, model: torch.nn.Module) -> str | None:
    """timm's TResNet key -> the official (Alibaba-MIIL) layout: ``conv2d_ABN`` is Sequential(conv,
    InPlaceABN), wrapped once more, Sequential(conv2d_ABN, anti-alias), in strided blocks."""
    if key.endswith("num_batches_tracked"):
        return None  # InPlaceABN keeps no batch count
    match = re.match(r"(.*\bconv\d+)\.(conv|bn)\.(.*)", key)
    if match:
        owner, part, rest = match.groups()
        strided = getattr(model.get_submodule(owner), "aa", None) is not None
        index = {"conv": "0", "bn": "1"}[part]
        return f"{owner}.{'0.' if strided else ''}{index}.{rest}"
    match = re.match(r"(.*\bdownsample\.\d+)\.(conv|bn)\.(.*)", key)
    if match:
        owner, part, rest = match.groups()
        return f"{owner}.{ {'conv': '0', 'bn': '1'}[part] }.{rest}"
    return key


def _official_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    state = {}
    for key, value in model.state_dict().items():
        official = _official_key(key, model)
        if official is not None:
            state[official] = value - ABN_EPSILON if key.endswith("bn.weight") else value
    return state


def _small_tresnet(num_classes: int) -> TResNet:
    """TResNet-M's modules (stem, strided anti-aliased blocks, downsample paths, SE) at 1 block per
    stage and a quarter of its width: the same checkpoint layout, built in a fraction of the time."""
    model = TResNet(layers=[1, 1, 1, 1], num_classes=num_classes, width_factor=0.25)
    model.pretrained_cfg = {"classifier": "head.fc"}  # what timm.create_model sets for tresnet_m
    return model


@pytest.fixture(scope="module")
def trained_tresnet():
    """A small TResNet with every tensor random (batch-norm weights positive, as trained ABN weights are)."""
    torch.manual_seed(3)
    model = _small_tresnet(10).eval()
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if key.endswith("bn.weight") or key.endswith("running_var"):
                value.copy_(torch.rand_like(value) + 0.5)
            elif value.is_floating_point():
                value.copy_(torch.randn_like(value) * 0.05)
    return model


def test_the_official_tresnet_layout_is_converted_by_timms_filter(tmp_path, trained_tresnet):
    official = _official_state(trained_tresnet)
    assert "body.conv1.0.weight" in official and "body.layer2.0.conv1.0.0.weight" in official
    assert "body.layer3.0.downsample.1.0.weight" in official and "body.conv1.conv.weight" not in official
    path = tmp_path / "mtresnet_21k.pth"
    torch.save({"model": official, "num_classes": 10}, path)

    model = _small_tresnet(4)
    dropped, converted = load_weights(model, path)
    assert converted == "timm.models.tresnet.checkpoint_filter_fn"
    assert dropped == ("head.fc.bias", "head.fc.weight")
    loaded, source = model.state_dict(), trained_tresnet.state_dict()
    for key, value in source.items():
        if key.startswith("head.fc.") or key.endswith("num_batches_tracked"):
            continue
        assert torch.allclose(loaded[key], value, rtol=0, atol=1e-6), key
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model.eval().forward_features(images), trained_tresnet.forward_features(images),
                              rtol=1e-4, atol=1e-5)


def test_a_timm_layout_checkpoint_is_loaded_as_written(tmp_path, trained_tresnet):
    path = tmp_path / "timm_layout.safetensors"
    save_file({k: v.contiguous() for k, v in trained_tresnet.state_dict().items()}, str(path))
    model = _small_tresnet(4)
    assert load_weights(model, path)[1] is None
    assert torch.equal(model.state_dict()["body.conv1.bn.weight"], trained_tresnet.state_dict()["body.conv1.bn.weight"])


def test_the_official_file_reaches_tresnet_m_through_create_backbone(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr("bench.training.backbones.load_weights",
                        lambda model, path: seen.append((type(model).__name__, path)) or ((), "filter"))
    path = tmp_path / "mtresnet_21k.pth"
    path.write_bytes(b"state")
    _, weights = create_backbone("tresnet_m", 4, str(path))
    assert seen == [("TResNet", path)] and (weights.source, weights.converted) == ("file", "filter")


def _cache_timm_weights(cache, name: str, state: dict[str, torch.Tensor]):
    """Lay ``state`` out as the Hugging Face cache holds timm's ``timm/<name>`` model.safetensors."""
    snapshot = cache / f"models--timm--{name}" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (cache / f"models--timm--{name}" / "refs").mkdir()
    (cache / f"models--timm--{name}" / "refs" / "main").write_text("0123abcd")
    save_file(state, str(snapshot / "model.safetensors"))
    return snapshot / "model.safetensors"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """An empty Hugging Face cache, and a network that fails the test if anything is fetched."""
    def refuse(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    monkeypatch.setattr(timm.models._builder, "load_pretrained", refuse)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch_hub"))
    return tmp_path / "hf"


def test_timm_named_weights_come_from_the_local_cache(offline):
    torch.manual_seed(5)
    state = timm.create_model("test_resnet", pretrained=False, num_classes=1000).state_dict()
    path = _cache_timm_weights(offline, "test_resnet.r160_in1k", state)
    assert weights_identity("timm:test_resnet.r160_in1k") == {"source": "timm", "name": "test_resnet.r160_in1k"}
    model, weights = create_backbone("test_resnet", 3, "timm:test_resnet.r160_in1k")
    assert (weights.source, weights.hub_tag) == ("timm", "r160_in1k")
    assert weights.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert weights.path == str(path) and weights.dropped == ("fc.bias", "fc.weight")
    key = next(k for k in state if not k.startswith("fc."))
    assert torch.equal(model.state_dict()[key], state[key])


def test_uncached_or_mismatched_timm_weights_are_refused_with_what_to_do(offline):
    assert weights_identity("timm:tresnet_m.miil_in21k") == {"source": "timm", "name": "tresnet_m.miil_in21k"}
    with pytest.raises(BackboneError, match=r"not in this machine's cache .* run once with pretrained=hub:miil_in21k"):
        create_backbone("tresnet_m", 3, "timm:tresnet_m.miil_in21k")
    with pytest.raises(BackboneError, match="timm has no weights of that name"):
        weights_identity("timm:tresnet_m.nope")
    _cache_timm_weights(offline, "test_resnet.r160_in1k",
                        timm.create_model("test_resnet", pretrained=False).state_dict())
    with pytest.raises(BackboneError, match="weights of 'test_resnet', not of the backbone 'resnet18'"):
        create_backbone("resnet18", 3, "timm:test_resnet.r160_in1k")
