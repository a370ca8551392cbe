"""``randaugment: official`` equals the ``randaugment`` pip package (1.0.2) of the official CSL/ASL
code, pixel for pixel, when both draw from the same seeded ``random`` / ``numpy.random`` streams."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from PIL import Image

from bench.runs.recipe import ImageRecipe, RecipeError
from bench.training.images import ImageRows, image_transform
from bench.training.images.randaugment import OP_LIST, OPS, OfficialRandAugment, apply_op


class PythonSource:
    """The package's own draws: Python's ``random`` and NumPy's global generator."""

    def randint(self, a: int, b: int) -> int:
        return random.randint(a, b)

    def random(self) -> float:
        return random.random()

    def choice(self, seq):
        return random.choice(seq)

    def np_randint(self, low: int, high: int) -> int:
        return int(np.random.randint(low=low, high=high))


@pytest.fixture
def package(monkeypatch):
    """The pip package, importable on NumPy >= 1.24 (it still uses ``np.int``)."""
    monkeypatch.setattr(np, "int", int, raising=False)
    return pytest.importorskip("randaugment.randaugment", reason="the randaugment package (test extra) is absent")


def _photo(width: int = 40, height: int = 30, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def test_the_operation_list_and_the_policy_index_are_the_packages(package):
    assert list(OPS) == package.RandAugment.get_trans_list()
    policies = package.RandAugment.get_rand_policies()
    ops = [(0.5, op, index) for op, index in OP_LIST]
    assert len(policies) == len(ops) ** 2 == 135 ** 2
    assert all(policies[k] == [ops[k // 135], ops[k % 135]] for k in range(0, len(policies), 97))


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("index", [1, 5, 9])
def test_every_operation_matches_the_package(package, op, index):
    image = _photo(seed=index)
    for seed in range(3):
        random.seed(seed)
        np.random.seed(seed)
        expected = package.SubPolicy(1.0, op, index, 0.0, "Invert", 1)(image)
        random.seed(seed)
        np.random.seed(seed)
        random.random()  # the package's draw for p1
        ours = apply_op(image, op, index, PythonSource())
        assert np.array_equal(np.asarray(ours), np.asarray(expected)), (op, index, seed)


def test_the_whole_policy_matches_the_package_over_many_seeds(package):
    reference, ours = package.RandAugment(), OfficialRandAugment(PythonSource())
    image = _photo(48, 36)
    changed = 0
    for seed in range(300):
        random.seed(seed)
        np.random.seed(seed)
        expected = np.asarray(reference(image))
        random.seed(seed)
        np.random.seed(seed)
        got = np.asarray(ours(image))
        assert np.array_equal(got, expected), seed
        changed += not np.array_equal(got, np.asarray(image))
    assert 0.6 * 300 < changed < 0.9 * 300  # 1 - 0.5**2 = 75% of images get at least one op


def test_the_default_source_is_torchs_generator_so_images_are_seeded_per_position(tmp_path):
    paths = []
    for i in range(4):
        paths.append(str(tmp_path / f"{i}.png"))
        _photo(seed=i).save(paths[-1])
    transform = image_transform(16, train=True, cutout=0, randaugment="official")
    first = [ImageRows(paths, transform, 16, seed=7)[i][0] for i in range(4)]
    again = [ImageRows(paths, transform, 16, seed=7)[i][0] for i in range(4)]
    other = [ImageRows(paths, transform, 16, seed=8)[i][0] for i in range(4)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


def test_the_recipe_chooses_the_implementation_and_checks_its_fields():
    assert ImageRecipe().randaugment == "official"
    assert ImageRecipe(randaugment="torchvision", randaugment_magnitude=5).randaugment_magnitude == 5
    assert ImageRecipe(randaugment_ops=0).randaugment_ops == 0
    with pytest.raises(RecipeError, match="randaugment must be one of official, torchvision"):
        ImageRecipe(randaugment="timm")
    with pytest.raises(RecipeError, match="randaugment 'official' applies 2 ops"):
        ImageRecipe(randaugment_ops=3)
    with pytest.raises(RecipeError, match="randaugment_magnitude applies to randaugment 'torchvision' only"):
        ImageRecipe(randaugment_magnitude=5)
    torchvision = image_transform(16, train=True, randaugment="torchvision")
    official = image_transform(16, train=True)
    assert "RandAugment(num_ops=2" in repr(torchvision) and "OfficialRandAugment" in repr(official)
    with pytest.raises(ValueError, match="randaugment must be one of"):
        image_transform(16, train=True, randaugment="nope")
