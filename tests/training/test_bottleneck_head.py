"""``classifier: bottleneck``: the official helper functions' OpenImages head on any timm backbone."""
from __future__ import annotations

import pytest
import torch

from bench.runs.recipe import ImageRecipe, RecipeError
from bench.training.backbones import BackboneError, create_backbone
from bench.training.heads import BottleneckHead


def test_the_head_is_two_affine_maps_with_the_official_names_and_init():
    torch.manual_seed(0)
    head = BottleneckHead(2048, 7)
    shapes = {k: tuple(v.shape) for k, v in head.state_dict().items()}
    assert shapes == {"embedding_generator.0.weight": (512, 2048), "embedding_generator.0.bias": (512,),
                      "FC.weight": (7, 512), "FC.bias": (7,)}  # the keys under head.fc of the official models
    assert head.FC.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert head.embedding_generator[0].weight.std().item() == pytest.approx(0.01, rel=0.01)
    x = torch.randn(3, 2048)
    first, second = head.embedding_generator[0], head.FC
    by_hand = (x @ first.weight.T + first.bias) @ second.weight.T + second.bias  # no activation in between
    assert torch.allclose(head(x), by_hand, atol=1e-6)


def test_create_backbone_swaps_the_classifier_after_the_weights(tmp_path):
    torch.manual_seed(0)
    plain, _ = create_backbone("test_resnet", 3)
    torch.manual_seed(0)
    model, weights = create_backbone("test_resnet", 3, classifier="bottleneck", bottleneck_dim=8)
    assert isinstance(model.fc, BottleneckHead) and model.fc.FC.out_features == 3
    assert model.fc.embedding_generator[0].in_features == model.num_features
    assert all(torch.equal(v, plain.state_dict()[k]) for k, v in model.state_dict().items() if not k.startswith("fc."))
    assert model.eval()(torch.zeros(2, 3, 32, 32)).shape == (2, 3)
    path = tmp_path / "with_bottleneck.pth"
    torch.save(model.state_dict(), path)  # e.g. an OpenImages model as a start: its head is dropped
    _, loaded = create_backbone("test_resnet", 5, str(path), classifier="bottleneck")
    assert set(loaded.dropped) == {"fc.embedding_generator.0.weight", "fc.embedding_generator.0.bias", "fc.FC.weight",
                                   "fc.FC.bias"}
    with pytest.raises(BackboneError, match="classifier 'bottleneck' needs a backbone with one linear classifier"):
        create_backbone("test_resnet", 0, classifier="bottleneck")


def test_the_recipe_checks_the_classifier_fields():
    assert (ImageRecipe().classifier, ImageRecipe().bottleneck_dim) == ("linear", 512)
    with pytest.raises(RecipeError, match="classifier must be one of linear, bottleneck; got 'mlp'"):
        ImageRecipe(classifier="mlp")
    with pytest.raises(RecipeError, match="bottleneck_dim must be in"):
        ImageRecipe(classifier="bottleneck", bottleneck_dim=0)
