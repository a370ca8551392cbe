"""Finetune runs say what a reader must know: per-epoch progress (loss, val mAP, images/s) on stderr,
a note when the backbone starts from random weights, the precision used, the bottleneck head."""
from __future__ import annotations

import sys
import warnings
from dataclasses import replace

import timm
import torch

from bench.core.errors import RunNoteWarning
from bench.runs.config import RunConfig, resolve_config
from bench.runs.execute import execute
from bench.runs.recipe import ImageRecipe
from bench.store import Store

TINY = ImageRecipe(backbone="test_resnet", image_size=16, epochs=2, batch_size=64)
ONE_EPOCH = replace(TINY, epochs=1)
RANDOM_NOTE = ("backbone test_resnet started from random weights (no pretrained checkpoint): expect near-chance mAP "
               "on small data")


def _run(tmp_path, recipe: ImageRecipe = TINY, progress: bool | None = False, **config):
    run = RunConfig("negative", "coco-mini", mode="finetune", recipe=recipe, workers=0, **config)
    return execute(run, Store(tmp_path / "runs.db"), progress=progress).record


def test_forced_progress_prints_one_line_per_epoch_with_loss_val_map_and_speed(tmp_path, capsys):
    record = _run(tmp_path, progress=True)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("epoch ") and "images/s" in line]
    assert [line.split()[1] for line in lines] == ["1/2", "2/2"], err
    history = record.extra["history"]
    for line, epoch in zip(lines, history):
        assert f"loss {epoch['loss']:.4g}" in line
        assert f"val mAP(C) raw {epoch['val_map_c_raw']:.2f}, ema {epoch['val_map_c_ema']:.2f}" in line
        assert f"{epoch['images_per_s']:.1f} images/s" in line


def test_auto_progress_shows_on_a_terminal_only(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    _run(tmp_path, recipe=ONE_EPOCH, progress=None)
    assert "epoch 1/1" in capsys.readouterr().err


def test_random_weights_are_a_run_note_warned_once_and_the_precision_is_recorded(tmp_path, capsys):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = _run(tmp_path, recipe=replace(ONE_EPOCH, amp="fp16"), progress=None)
    assert "images/s" not in capsys.readouterr().err  # auto progress: stderr is no terminal here
    assert record.extra["notes"] == [RANDOM_NOTE]
    assert [str(w.message) for w in caught if issubclass(w.category, RunNoteWarning)] == [RANDOM_NOTE]
    assert record.extra["precision"] == {"amp": "off", "requested": "fp16", "grad_scaler": False,
                                         "channels_last": False, "deterministic": False}  # the CPU runs float32
    assert record.cost["amp"] == "off" and record.config["recipe"]["amp"] == "fp16"


def test_a_pretrained_start_has_no_note(tmp_path):
    path = tmp_path / "start.pth"
    torch.save(timm.create_model("test_resnet", pretrained=False).state_dict(), path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = _run(tmp_path, recipe=replace(ONE_EPOCH, pretrained=str(path)))
    assert record.extra["notes"] == [] and not [w for w in caught if issubclass(w.category, RunNoteWarning)]
    assert record.extra["backbone"]["weights"]["source"] == "file"


def test_the_bottleneck_head_trains_end_to_end_and_is_hashed(tmp_path):
    record = _run(tmp_path, recipe=replace(ONE_EPOCH, classifier="bottleneck", bottleneck_dim=16), select_on="last")
    assert record.status == "done" and record.config["recipe"]["classifier"] == "bottleneck"
    assert record.config["recipe"]["bottleneck_dim"] == 16
    plain = resolve_config(RunConfig("negative", "coco-mini", mode="finetune", recipe=ONE_EPOCH)).config["recipe"]
    assert plain["classifier"] == "linear" and plain["randaugment"] == "official"
    assert "bottleneck_dim" not in plain and "randaugment_magnitude" not in plain
    torchvision = resolve_config(RunConfig("negative", "coco-mini", mode="finetune",
                                           recipe=replace(ONE_EPOCH, randaugment="torchvision"))).config["recipe"]
    assert torchvision["randaugment_magnitude"] == 9


def test_linear_mode_on_images_notes_random_backbone_features_too(tmp_path):
    recipe = ImageRecipe(backbone="test_resnet", image_size=16, lr=1e-3, epochs=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = execute(RunConfig("negative", "coco-mini", mode="linear", recipe=recipe, workers=0),
                         Store(tmp_path / "runs.db"), progress=False).record
    assert record.extra["notes"] == [RANDOM_NOTE]
    assert [str(w.message) for w in caught if issubclass(w.category, RunNoteWarning)] == [RANDOM_NOTE]
