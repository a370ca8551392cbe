"""The finetune options of the Large Loss Matters / Cole et al. / Hill recipes: a constant lr, OneCycle
planned over more epochs than trained, a classifier lr multiplier, horizontal flips and LL's early stop
(``bench.training.finetune.optim``, ``bench.training.finetune.selection.stop_reason``)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import timm
import torch
from PIL import Image
from torch import nn

from bench.plugins.method import LabelStore
from bench.plugins.registry import DATASETS, METHODS
from bench.runs.config import RunConfig
from bench.runs.execute import RunFailed, execute
from bench.runs.recipe import ImageRecipe, RecipeError
from bench.store import Store
from bench.training import finetune
from bench.training.checkpoint import RunCheckpoints
from bench.training.finetune.loop import fit
from bench.training.finetune.optim import classifier_module, finetune_optimizer
from bench.training.finetune.selection import stop_reason
from bench.training.finetune.setup import FinetuneError, FitSetup, Monitored
from bench.training.images import BadImages, ImageRows, image_transform
from bench.training.images.inference import Precision
from bench.training.modes import FINETUNE
from bench.training.tensors import label_tensor

ROWS, SIZE = 20, 24


class Images:
    name, modality, image_size = "images", "images", 32


class Tiny(nn.Module):
    """A conv net whose classifier is named as timm names it (``pretrained_cfg["classifier"]``)."""

    pretrained_cfg = {"classifier": "fc"}

    def __init__(self, classes: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, stride=4), nn.BatchNorm2d(4), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(4, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x))


def _setup(recipe: ImageRecipe, monitored: bool = False) -> FitSetup:
    data = DATASETS.get("coco-mini")().load()
    paths = data.train.images[:ROWS]
    torch.manual_seed(0)
    monitor = Monitored("val", ImageRows(paths, image_transform(SIZE, train=False), SIZE), data.train.labels[:ROWS],
                        BadImages("val", paths)) if monitored else None
    return FitSetup(
        model=Tiny(data.num_classes), method=METHODS.get("negative")(), recipe=recipe, seed=0,
        label_store=LabelStore(label_tensor(data.train.labels[:ROWS])),
        train_rows=ImageRows(paths, image_transform(SIZE, train=True), SIZE), train_bad=BadImages("train", paths),
        device=torch.device("cpu"), precision=Precision(), workers=0, monitor=monitor,
    )


def _rates(setup: FitSetup, monkeypatch) -> list[list[float]]:
    """Every parameter group's lr after each step (observers run after the schedule stepped: the
    lr of the next step)."""
    rates: list[list[float]] = []
    built = []
    original = finetune.loop.finetune_optimizer
    monkeypatch.setattr(finetune.loop, "finetune_optimizer", lambda *a: built.append(original(*a)) or built[-1])
    setup.step_observers = (lambda logits, state: rates.append([g["lr"] for g in built[0].param_groups]),)
    fit(setup, select_best=False)
    return rates


@pytest.mark.parametrize(("fields", "message"), [
    ({"lr_schedule": "cosine"}, "lr_schedule must be one of onecycle, constant; got 'cosine'"),
    ({"schedule_epochs": 10}, r"schedule_epochs must be in \[epochs \(30\), 100000\]"),
    ({"lr_schedule": "constant", "schedule_epochs": 40}, "schedule_epochs applies to lr_schedule 'onecycle' only"),
    ({"classifier_lr_mult": 0.0}, "classifier_lr_mult must be > 0 and finite; got 0.0"),
    ({"classifier_lr_mult": float("inf")}, "classifier_lr_mult must be > 0 and finite"),
    ({"hflip": 1.5}, r"hflip must be a probability in \[0, 1\] \(0 = off\); got 1.5"),
    ({"stop_below_best": -1.0}, r"stop_below_best must be >= 0 and finite mAP points \(None = off\); got -1.0"),
])
def test_each_option_is_checked_with_a_one_line_error_naming_it(fields, message):
    with pytest.raises(RecipeError, match=message):
        ImageRecipe(**fields)


def test_the_classifier_trains_at_lr_mult_times_lr_and_weight_decay_stays_off_1d_parameters():
    model = timm.create_model("test_resnet", pretrained=False, num_classes=3)
    groups = finetune_optimizer(model, ImageRecipe(lr=1e-5, classifier_lr_mult=10.0, weight_decay=1e-4)).param_groups
    head = {id(p) for p in model.fc.parameters()}
    assert [g["lr"] for g in groups] == [1e-5, 1e-5, pytest.approx(1e-4), pytest.approx(1e-4)]
    assert [g["weight_decay"] for g in groups] == [1e-4, 0.0, 1e-4, 0.0]
    assert [id(p) for p in groups[2]["params"]] == [id(model.fc.weight)]
    assert [id(p) for p in groups[3]["params"]] == [id(model.fc.bias)]
    body = {id(p) for g in groups[:2] for p in g["params"]}
    assert not body & head and len(body) + 2 == len(list(model.parameters()))
    assert all(p.ndim > 1 for p in groups[0]["params"]) and all(p.ndim <= 1 for p in groups[1]["params"])


def test_the_classifier_is_the_bottleneck_head_when_installed_and_a_model_without_one_is_refused():
    from bench.training.backbones import install_bottleneck_head
    model = timm.create_model("test_resnet", pretrained=False, num_classes=3)
    install_bottleneck_head(model, 3, 8)
    assert classifier_module(model) is model.fc and len(list(model.fc.parameters())) == 4
    with pytest.raises(FinetuneError, match="classifier_lr_mult needs a model that names its classifier"):
        finetune_optimizer(nn.Sequential(nn.Linear(2, 2)), ImageRecipe(classifier_lr_mult=10.0))


def test_one_lr_keeps_the_two_csl_groups():
    groups = finetune_optimizer(Tiny(3), ImageRecipe()).param_groups
    assert len(groups) == 2 and [g["weight_decay"] for g in groups] == [1e-4, 0.0]


def test_a_constant_schedule_keeps_every_groups_lr_at_every_step(monkeypatch):
    recipe = ImageRecipe(epochs=2, batch_size=8, lr=1e-3, lr_schedule="constant", classifier_lr_mult=10.0,
                         ema_decay=0.0, weight_decay=0.0, image_size=SIZE)
    rates = _rates(_setup(recipe), monkeypatch)
    assert len(rates) == 2 * 3  # ceil(20 / 8) batches per epoch
    assert all(r == [1e-3, 1e-3, pytest.approx(1e-2), pytest.approx(1e-2)] for r in rates)


def test_one_cycle_planned_over_schedule_epochs_stops_mid_cycle_with_the_head_at_lr_mult(monkeypatch):
    recipe = ImageRecipe(epochs=2, schedule_epochs=5, batch_size=8, lr=1e-2, classifier_lr_mult=4.0, image_size=SIZE)
    rates = _rates(_setup(recipe), monkeypatch)
    reference = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1e-2)
    schedule = torch.optim.lr_scheduler.OneCycleLR(reference, max_lr=1e-2, total_steps=5 * 3, pct_start=0.2)
    expected = []
    for _ in range(5 * 3):
        expected.append(reference.param_groups[0]["lr"])
        reference.step()
        schedule.step()
    assert [r[0] for r in rates] == pytest.approx(expected[1:7])  # the first 2 of 5 planned epochs
    assert [r[2] for r in rates] == pytest.approx([4 * e for e in expected[1:7]])
    assert max(r[0] for r in rates) == pytest.approx(1e-2) and rates[-1][0] > 1e-3  # past the peak, mid-cycle


def test_stop_reason_is_lls_rule_more_than_the_margin_below_the_best():
    assert stop_reason({"raw": 46.9}, 50.0, 3.0) is not None  # 3.1 points below
    assert stop_reason({"raw": 47.0}, 50.0, 3.0) is None  # exactly 3: LL's test is strict (> 3)
    assert stop_reason({"raw": 40.0, "ema": 48.0}, 50.0, 3.0) is None  # the epoch's best variant counts
    assert stop_reason({"raw": 10.0}, 50.0, None) is None and stop_reason({"raw": 10.0}, None, 3.0) is None
    assert stop_reason({"raw": float("nan")}, 50.0, 3.0) is None
    reason = stop_reason({"raw": 46.0}, 50.0, 3.0)
    assert reason == "monitored mAP(C) 46.00 fell more than 3 points below the best 50.00"


def test_training_stops_after_the_first_epoch_more_than_3_points_below_the_best_and_resumes_stopped(
        tmp_path, monkeypatch):
    scripted = iter([50.0, 52.0, 48.5, 48.9, 60.0, 61.0])  # epoch 3 is 3.5 below the best: stop there
    monkeypatch.setattr(finetune.loop, "evaluate", lambda *a, **k: SimpleNamespace(map_c=next(scripted)))
    recipe = ImageRecipe(epochs=6, batch_size=8, lr=1e-3, lr_schedule="constant", ema_decay=0.0,
                         stop_below_best=3.0, image_size=SIZE)
    setup = _setup(recipe, monitored=True)
    setup.checkpoints = RunCheckpoints(tmp_path, "h")
    result = fit(setup, select_best=True)
    assert [h["epoch"] for h in result.history] == [1, 2, 3] and result.steps == 3 * 3
    assert "stopped_early" in result.history[2] and "stopped_early" not in result.history[1]
    assert result.selection["epoch"] == 2 and result.selection["stopped_at_epoch"] == 3
    again = _setup(recipe, monitored=True)
    again.checkpoints, again.resume = RunCheckpoints(tmp_path, "h"), True
    resumed = fit(again, select_best=True)
    assert resumed.steps == 9 and len(resumed.history) == 3 and resumed.selection["epoch"] == 2


def test_without_the_rule_every_epoch_trains_and_last_reports_the_epochs_trained(monkeypatch):
    scripted = iter([50.0, 10.0, 5.0])
    monkeypatch.setattr(finetune.loop, "evaluate", lambda *a, **k: SimpleNamespace(map_c=next(scripted)))
    result = fit(_setup(ImageRecipe(epochs=3, batch_size=8, ema_decay=0.0, image_size=SIZE), monitored=True),
                 select_best=False)
    assert len(result.history) == 3 and result.selection == {"policy": "last", "epoch": 3, "variant": "raw"}


def test_hflip_flips_training_images_only():
    image = Image.new("RGB", (8, 8))
    image.putpixel((0, 0), (255, 255, 255))
    flipped = image_transform(8, train=True, cutout=0.0, randaugment_ops=0, hflip=1.0)(image)
    assert flipped[:, 0, 7].tolist() == [1.0, 1.0, 1.0] and flipped[:, 0, 0].tolist() == [0.0, 0.0, 0.0]
    kept = image_transform(8, train=False, hflip=1.0)(image)
    assert kept[:, 0, 0].tolist() == [1.0, 1.0, 1.0]


def test_the_configuration_records_each_option_only_where_it_applies():
    base = FINETUNE.prepare(ImageRecipe(backbone="resnet18"), Images)[1]
    assert not {"lr_schedule", "schedule_epochs", "classifier_lr_mult", "hflip", "stop_below_best"} & set(base)
    same = FINETUNE.prepare(ImageRecipe(backbone="resnet18", schedule_epochs=30), Images)[1]
    assert same == base  # planned over its own epochs: what it did before the field existed
    ll = FINETUNE.prepare(ImageRecipe(backbone="resnet18", lr_schedule="constant", classifier_lr_mult=10.0,
                                      hflip=0.5, stop_below_best=3.0), Images)[1]
    assert (ll["lr_schedule"], ll["classifier_lr_mult"], ll["hflip"], ll["stop_below_best"]) == (
        "constant", 10.0, 0.5, 3.0)
    assert "pct_start" not in ll and "schedule_epochs" not in ll
    hill = FINETUNE.prepare(ImageRecipe(backbone="resnet18", epochs=31, schedule_epochs=80), Images)[1]
    assert hill["schedule_epochs"] == 80 and "lr_schedule" not in hill and hill["pct_start"] == 0.2


def test_a_tiny_ll_recipe_finetunes_end_to_end_on_the_cpu(tmp_path):
    recipe = ImageRecipe(backbone="test_resnet", image_size=32, epochs=3, batch_size=32, lr=1e-5,
                         lr_schedule="constant", classifier_lr_mult=10.0, weight_decay=0.0, hflip=0.5,
                         normalize="imagenet", cutout=0.0, randaugment_ops=0, ema_decay=0.0, amp="off",
                         stop_below_best=0.0)
    record = execute(RunConfig("negative", "coco-mini", mode="finetune", recipe=recipe, workers=0),
                     Store(tmp_path / "runs.db")).record
    assert record.status == "done"
    history, selection = record.extra["history"], record.selection
    assert set(record.extra["test_variants"]) == {"raw"} and selection["variant"] == "raw"
    stops = [h for h in history if "stopped_early" in h]  # margin 0: any drop below the best stops
    assert len(stops) <= 1 and (not stops or stops[0] is history[-1])
    assert ("stopped_at_epoch" in selection) == bool(stops)
    assert record.cost["epochs"] == len(history) and record.cost["amp"] == "off"
    assert record.config["recipe"]["stop_below_best"] == 0.0 and record.config["recipe"]["lr_schedule"] == "constant"


def test_the_early_stop_needs_a_monitored_split(tmp_path):
    recipe = ImageRecipe(backbone="test_resnet", image_size=32, epochs=1, stop_below_best=3.0)
    with pytest.raises(RunFailed, match="stop_below_best 3 needs a monitored split"):
        execute(RunConfig("negative", "coco-mini", mode="finetune", recipe=recipe, workers=0, val_fraction=0.0,
                          select_on="last"), Store(tmp_path / "runs.db"))


def _ddp_stop_worker(rank: int, rendezvous: str, out: str) -> None:
    import torch.distributed as dist
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=2)
    try:
        scripted = iter([50.0, 52.0, 48.5, 60.0])  # rank 0 scores the split; epoch 3 is 3.5 below the best
        finetune.loop.evaluate = lambda *a, **k: SimpleNamespace(map_c=next(scripted))
        recipe = ImageRecipe(epochs=4, batch_size=8, lr=1e-3, lr_schedule="constant", ema_decay=0.0,
                             stop_below_best=3.0, image_size=SIZE)
        result = fit(_setup(recipe, monitored=True), select_best=True)
        torch.save({"epochs": [h["epoch"] for h in result.history], "steps": result.steps}, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


def test_under_ddp_every_process_stops_where_rank_0_decides(tmp_path):
    import multiprocessing
    context = multiprocessing.get_context("spawn")
    out = str(tmp_path / "ddp")
    workers = [context.Process(target=_ddp_stop_worker, args=(r, str(tmp_path / "rdv"), out)) for r in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=180)
        if worker.is_alive():  # a process that trained on alone would wait for the other forever
            worker.kill()
    assert [w.exitcode for w in workers] == [0, 0]
    assert [torch.load(f"{out}.{r}")["epochs"] for r in range(2)] == [[1, 2, 3], [1, 2, 3]]
