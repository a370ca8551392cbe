"""``bench.training.backbones``: timm models by name, local weights without their classifier, no downloads."""
from __future__ import annotations

import hashlib

import pytest
import timm
import torch
from safetensors.torch import save_file

from bench.training.backbones import BackboneError, create_backbone, state_sha256, weights_identity

NAME = "test_resnet"  # timm's 0.4 M-parameter ResNet: builds in milliseconds


def _trained_like(num_classes: int, seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return timm.create_model(NAME, pretrained=False, num_classes=num_classes).state_dict()


def test_unknown_backbone_names_close_matches():
    with pytest.raises(BackboneError, match=r"unknown backbone 'resnet1800' \(did you mean 'resnet18'\?\)"):
        create_backbone("resnet1800", 3)


def test_random_weights_follow_the_seed_and_are_identified_by_their_tensors():
    torch.manual_seed(0)
    a, wa = create_backbone(NAME, 5)
    torch.manual_seed(0)
    _, wb = create_backbone(NAME, 5)
    torch.manual_seed(1)
    _, wc = create_backbone(NAME, 5)
    assert wa.source == "random" and wa.sha256 is None
    assert wa.state_sha256 == wb.state_sha256 == state_sha256(a) != wc.state_sha256
    assert a.get_classifier().out_features == 5


def test_feature_extractor_has_no_classifier():
    model, _ = create_backbone(NAME, 0)
    out = model.eval()(torch.zeros(2, 3, 32, 32))
    assert out.shape == (2, model.num_features)


@pytest.mark.parametrize("fmt", ["pt-wrapped", "safetensors"])
def test_local_checkpoint_loads_without_its_classifier(tmp_path, fmt):
    source = _trained_like(num_classes=10, seed=7)
    if fmt == "safetensors":
        path = tmp_path / "weights.safetensors"
        save_file(source, str(path))
    else:
        path = tmp_path / "weights.pth"
        torch.save({"model": {f"module.{k}": v for k, v in source.items()}, "epoch": 3}, path)
    torch.manual_seed(0)
    fresh_head = timm.create_model(NAME, pretrained=False, num_classes=4).get_classifier().weight.clone()
    torch.manual_seed(0)
    model, weights = create_backbone(NAME, 4, str(path))
    state = model.state_dict()
    assert weights.source == "file" and weights.dropped == ("fc.bias", "fc.weight")
    assert weights.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert weights.state_sha256 == state_sha256(model)
    assert all(torch.equal(state[k], v) for k, v in source.items() if not k.startswith("fc."))
    assert torch.equal(state["fc.weight"], fresh_head)
    assert weights_identity(str(path)) == {"source": "file", "sha256": weights.sha256}


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save(timm.create_model("test_vit", pretrained=False).state_dict(), path)
    with pytest.raises(BackboneError, match=r"other\.pth: lacks .* tensor\(s\) of the model"):
        create_backbone(NAME, 3, str(path))
    partial = _trained_like(3, 0)
    partial["extra.weight"] = torch.zeros(1)
    torch.save(partial, path)
    with pytest.raises(BackboneError, match=r"has 1 tensor\(s\) the model does not, first 'extra.weight'"):
        create_backbone(NAME, 3, str(path))


class NotATensor:
    pass


def test_pickled_objects_are_not_executed(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"model": {"conv.weight": NotATensor()}}, path)
    with pytest.raises(BackboneError, match=r"evil\.pth: cannot be read \(UnpicklingError"):
        create_backbone(NAME, 3, str(path))
    with pytest.raises(BackboneError, match="no such file"):
        create_backbone(NAME, 3, str(tmp_path / "missing.pth"))


def test_nothing_is_downloaded_unless_the_hub_is_asked_for(monkeypatch):
    calls = []
    real = timm.create_model

    def spy(name, pretrained=False, **kwargs):
        calls.append((name, pretrained))
        return real(name, pretrained=False, **kwargs)

    monkeypatch.setattr(timm, "create_model", spy)
    create_backbone(NAME, 3)
    _, weights = create_backbone(NAME, 3, "hub:r160_in1k")
    assert calls == [(NAME, False), (f"{NAME}.r160_in1k", True)]
    assert weights.source == "hub" and weights.hub_tag == "r160_in1k"
