"""``bench.training.images``: CSL transforms, per-image seeded augmentation, loaders, unreadable images."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import functional as TF

from bench.training.images import BadImages, Cutout, ImageRows, image_loader, image_transform, shard
from bench.training.images.loader import epoch_order
from bench.training.images.rows import BadImageWarning
from bench.training.images.transforms import IMAGENET_MEAN, IMAGENET_STD, normalization

CPU = torch.device("cpu")


def _photo(path, size=(40, 30), seed=0):
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, "JPEG", quality=90)
    return str(path)


@pytest.fixture
def photos(tmp_path):
    return [_photo(tmp_path / f"img{i}.jpg", seed=i) for i in range(6)]


def test_cutout_paints_one_uniformly_coloured_rectangle_of_half_the_sides():
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    torch.manual_seed(3)
    painted = np.asarray(Cutout(0.5)(image))
    changed = painted.any(axis=2)
    rows, cols = np.nonzero(changed)
    assert len({tuple(p) for p in painted[changed]}) == 1  # one random colour
    assert rows.max() - rows.min() + 1 <= 11 and cols.max() - cols.min() + 1 <= 21  # 0.5 x the sides (+1 inclusive)
    assert changed.sum() == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)  # a filled rectangle
    assert not np.asarray(image).any()  # the input is not modified


def test_cutout_centred_is_full_size_and_clipped_at_the_border(monkeypatch):
    draws = iter([torch.tensor(20), torch.tensor(10), torch.tensor([9, 9, 9]), torch.tensor(0), torch.tensor(0),
                  torch.tensor([9, 9, 9])])
    monkeypatch.setattr(torch, "randint", lambda *args, **kwargs: next(draws))
    image = Image.new("RGB", (40, 20))
    centred = np.asarray(Cutout(0.5)(image)).any(axis=2)
    assert centred.sum() == 21 * 11 and centred[5:16, 10:31].all()  # x 10..30, y 5..15 inclusive
    corner = np.asarray(Cutout(0.5)(image)).any(axis=2)
    assert corner.sum() == 11 * 6 and corner[:6, :11].all()  # clipped to the image


def test_evaluation_transform_is_a_bilinear_squish_without_normalisation(photos):
    with Image.open(photos[0]) as image:
        rgb = image.convert("RGB")
    tensor = image_transform(24, train=False)(rgb)
    reference = TF.to_tensor(rgb.resize((24, 24), Image.Resampling.BILINEAR))
    assert tensor.shape == (3, 24, 24) and tensor.dtype == torch.float32
    assert torch.allclose(tensor, reference, atol=1.5 / 255)
    normalised = image_transform(24, train=False, mean_std=normalization("imagenet"))(rgb)
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    assert torch.allclose(normalised, (tensor - mean) / std, atol=1e-6)
    with pytest.raises(ValueError, match="normalize must be one of none, imagenet, model"):
        normalization("z-score")


def test_training_transform_augments_and_can_be_turned_off(photos):
    with Image.open(photos[1]) as image:
        rgb = image.convert("RGB")
    plain = image_transform(24, train=False)(rgb)
    torch.manual_seed(0)
    augmented = image_transform(24, train=True)(rgb)
    assert augmented.shape == plain.shape and not torch.equal(augmented, plain)
    off = image_transform(24, train=True, cutout=0, randaugment_ops=0)(rgb)
    assert torch.equal(off, plain)


def test_augmentation_depends_on_seed_epoch_and_image_only(photos):
    rows = ImageRows(photos, image_transform(16, train=True), 16, seed=5)

    def epoch_images(order, workers):
        out = {}
        for batch in image_loader(rows, torch.tensor(order), 2, workers, CPU):
            for position, image in zip(batch.positions.tolist(), batch.images):
                out[position] = image
        return out

    rows.set_epoch(1)
    torch.manual_seed(123)  # the caller's generator state plays no part
    first = epoch_images([0, 1, 2, 3, 4, 5], workers=0)
    torch.manual_seed(999)
    again = epoch_images([5, 3, 1, 0, 2, 4], workers=2)
    assert all(torch.equal(first[i], again[i]) for i in range(6))
    rows.set_epoch(2)
    later = epoch_images([0, 1, 2, 3, 4, 5], workers=0)
    assert not any(torch.equal(first[i], later[i]) for i in range(6))


def test_unreadable_images_give_blank_rows_a_list_and_one_warning_each(tmp_path, photos):
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(open(photos[0], "rb").read()[:200])
    text = tmp_path / "text.jpg"
    text.write_text("not an image")
    paths = [photos[0], str(truncated), str(tmp_path / "missing.jpg"), str(text)]
    rows = ImageRows(paths, image_transform(16, train=True), 16)
    bad = BadImages("train", paths)
    with pytest.warns(BadImageWarning) as caught:
        for _ in range(2):  # a second epoch warns no more
            for batch in image_loader(rows, torch.arange(4), 4, 2, CPU):
                good = bad.note(batch.positions, batch.errors)
    assert len(caught) == 3
    assert good.tolist() == [True, False, False, False]
    assert not batch.images[1:].any()
    report = bad.to_dict()
    assert report["count"] == 3 and set(report["images"]) == set(paths[1:])
    assert "FileNotFoundError" in report["images"][paths[2]] and "UnidentifiedImageError" in report["images"][paths[3]]


def test_epoch_order_and_shards():
    assert torch.equal(epoch_order(50, 1, 3), epoch_order(50, 1, 3))
    assert not torch.equal(epoch_order(50, 1, 3), epoch_order(50, 1, 4))
    assert sorted(epoch_order(50, 1, 3).tolist()) == list(range(50))
    order = torch.arange(7)
    padded = [shard(order, r, 3, pad=True) for r in range(3)]
    assert [len(p) for p in padded] == [3, 3, 3]
    assert sorted(torch.cat(padded).tolist()) == [0, 0, 1, 1, 2, 3, 4, 5, 6]
    exact = [shard(order, r, 3, pad=False) for r in range(3)]
    assert sorted(torch.cat(exact).tolist()) == list(range(7))
    assert torch.equal(shard(order, 0, 1, pad=True), order)
