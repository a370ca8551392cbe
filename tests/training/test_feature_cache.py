"""``bench.training.feature_cache``: extract once, memory-map, reuse, invalidate, build safely in parallel."""
from __future__ import annotations

import multiprocessing
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import bench.training.feature_cache as feature_cache
from bench.core.hashing import json_sha256
from bench.runs.recipe import ImageRecipe
from bench.training.backbones import create_backbone
from bench.training.feature_cache import cached_features, feature_key
from bench.training.image_recipe import recipe_transform

CPU = torch.device("cpu")
RECIPE = ImageRecipe(backbone="test_resnet", image_size=32, batch_size=4)


@pytest.fixture
def photos(tmp_path):
    paths = []
    for i in range(5):
        pixels = np.random.default_rng(i).integers(0, 256, (24 + i, 30, 3), dtype=np.uint8)
        path = tmp_path / "images" / f"{i}.jpg"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(pixels).save(path)
        paths.append(str(path))
    return paths


def _direct_features(paths, recipe):
    torch.manual_seed(0)
    model, _ = create_backbone(recipe.backbone, 0, recipe.pretrained)
    model.eval()
    transform = recipe_transform(recipe, model, train=False)
    with torch.no_grad():
        batch = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths])
        return model(batch).numpy()


def test_features_are_extracted_once_then_memory_mapped(tmp_path, photos):
    first = cached_features(photos, RECIPE, tmp_path / "cache", CPU, workers=0)
    second = cached_features(photos, RECIPE, tmp_path / "cache", CPU, workers=2)
    assert not first.hit and second.hit and first.key == second.key
    assert isinstance(second.features, np.memmap) and not second.features.flags.writeable
    assert second.features.dtype == np.float16 and second.features.shape == (5, 96)
    assert np.array_equal(first.features, second.features)
    direct = _direct_features(photos, RECIPE)
    assert np.allclose(second.features.astype(np.float32), direct, rtol=2e-3, atol=1e-3)
    assert second.meta["bad_images"]["count"] == 0 and second.meta["key"]["weights"] == {"source": "random", "seed": 0}
    assert second.provenance()["cache_hit"] is True


def test_any_key_change_gives_a_new_entry(tmp_path, photos):
    base = json_sha256(feature_key(photos, RECIPE))
    weights = tmp_path / "w.pth"
    torch.save(create_backbone("test_resnet", 0)[0].state_dict(), weights)
    changed = [
        feature_key(photos, replace(RECIPE, image_size=48)),
        feature_key(photos, replace(RECIPE, normalize="imagenet")),
        feature_key(photos, replace(RECIPE, backbone="resnet18")),
        feature_key(photos, replace(RECIPE, pretrained=str(weights))),
        feature_key(photos[:4], RECIPE),
        feature_key(list(reversed(photos)), RECIPE),
    ]
    assert len({base, *(json_sha256(k) for k in changed)}) == 7
    same = [replace(RECIPE, lr=1.0, epochs=3, head="mlp", cutout=0.0, ema_decay=0.0, batch_size=128)]
    assert all(json_sha256(feature_key(photos, r)) == base for r in same)  # training fields do not matter
    Path(photos[0]).write_bytes(Path(photos[0]).read_bytes() + b"\0")  # the file changed size
    assert json_sha256(feature_key(photos, RECIPE)) != base


def test_unreadable_image_is_listed_and_gets_blank_image_features(tmp_path, photos):
    broken = tmp_path / "images" / "broken.jpg"
    broken.write_text("no image")
    paths = [*photos[:2], str(broken)]
    with pytest.warns(UserWarning, match="broken.jpg unreadable"):
        cached = cached_features(paths, RECIPE, tmp_path / "cache", CPU, workers=0)
    assert cached.meta["bad_images"]["count"] == 1 and str(broken) in cached.meta["bad_images"]["images"]
    torch.manual_seed(0)
    model, _ = create_backbone("test_resnet", 0)
    with torch.no_grad():
        blank = model.eval()(torch.zeros(1, 3, 32, 32)).numpy()[0]
    assert np.allclose(cached.features[2].astype(np.float32), blank, rtol=2e-3, atol=1e-3)


def _build_slowly(paths, root, start, results):
    real = feature_cache._extract

    def slow(*args, **kwargs):
        report = real(*args, **kwargs)
        with open(Path(root).parent / "extractions.log", "a") as log:
            log.write("x\n")
        time.sleep(1.0)  # the other process is waiting on the lock meanwhile
        return report

    feature_cache._extract = slow
    start.wait()
    cached = cached_features(paths, RECIPE, root, CPU, workers=0)
    results.put((cached.hit, np.asarray(cached.features).tobytes()))


def test_two_processes_building_the_same_entry_extract_once(tmp_path, photos):
    context = multiprocessing.get_context("spawn")  # fork after torch ran threads can deadlock
    start, results = context.Barrier(2), context.Queue()
    root = tmp_path / "cache"
    workers = [context.Process(target=_build_slowly, args=(photos, root, start, results)) for _ in range(2)]
    for process in workers:
        process.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for process in workers:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert sorted(hit for hit, _ in outcomes) == [False, True]
    assert outcomes[0][1] == outcomes[1][1]
    assert (tmp_path / "extractions.log").read_text() == "x\n"
    assert len([p for p in root.iterdir() if p.is_dir()]) == 1 and not list(root.glob(".*.tmp"))
