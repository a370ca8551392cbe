"""The live view: the ETA against hand-worked cases, the table while running, plain lines off a terminal."""
from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from rich.console import Console

from bench.sweep.grid import expand
from bench.sweep.live import SweepView, estimate_eta, format_seconds
from bench.sweep.shorthand import Shorthand, shorthand_spec


def test_eta_hand_worked():
    # typical = mean(20, 30) = 25; cell A: 10 s at 50 % -> 10 s left; cell B: 1 % done -> max(25, 2) - 2 = 23 left
    assert estimate_eta(4, [(10.0, 0.5), (2.0, 0.01)], [20.0, 30.0], slots=2) == pytest.approx((10 + 23 + 4 * 25) / 2)
    # nothing finished yet: the typical duration comes from the running cells' rates (10 s / 0.5 = 20 s)
    assert estimate_eta(2, [(10.0, 0.5)], [], slots=1) == pytest.approx(10 + 2 * 20)
    assert estimate_eta(3, [(1.0, 0.0)], [], slots=2) is None
    assert estimate_eta(0, [], [5.0], slots=2) == 0.0


@pytest.mark.parametrize("seconds, text", [(None, "?"), (42.4, "42s"), (185, "3m05s"), (3720, "1h02m")])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


def _cells():
    return expand(shorthand_spec(Shorthand(methods="negative", datasets="scene", seeds="0,1,2", epochs=1)))


def _record(status: str, **fields):
    return SimpleNamespace(status=status, id="abcdef0123456789", metrics=fields.get("metrics"),
                           error=fields.get("error"))


def test_live_table_counts_running_progress_and_failures():
    cells = _cells()
    console = Console(file=io.StringIO(), force_terminal=True, width=160, record=True)
    with SweepView(cells, skipped=5, slots=2, console=console, live=True) as view:
        view.started(cells[0])
        view.started(cells[1])
        view.progress(cells[1].index, 0.5, "epoch 1/1")
        view.finished(cells[0], _record("failed", error="TrainingError: loss is nan"))
        text = Console(file=io.StringIO(), width=160, record=True)
        text.print(view.render())
        shown = text.export_text()
    assert "0 done, 1 failed, 1 running, 1 pending (5 already done, skipped)" in shown
    assert "epoch 1/1" in shown and "ETA" in shown
    assert "failed #0 negative on scene (seed 0, split seed 0; epochs=1): TrainingError: loss is nan" in shown


def test_plain_lines_off_a_terminal():
    cells = _cells()
    out = io.StringIO()
    console = Console(file=out, width=200)
    with SweepView(cells, skipped=0, slots=1, console=console) as view:
        view.started(cells[2])
        view.finished(cells[2], _record("done", metrics={"map_c": 61.234}))
    assert out.getvalue().startswith("[1/3] done: negative on scene (seed 2, split seed 0; epochs=1): mAP(C) 61.23 (")
