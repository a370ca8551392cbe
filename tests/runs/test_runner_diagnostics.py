"""The runner records what a method says about its run (``Method.run_diagnostics`` / ``run_notes``):
selective's coverage on the embedded ``scene`` under RPA, its degeneration note as a
``RunNoteWarning``, and nothing for a method without diagnostics (issue 13 item 3)."""
from __future__ import annotations

import warnings

import pytest

from bench.core.errors import RunNoteWarning
from bench.runs.config import RunConfig, resolve_config
from bench.runs.execute import execute
from bench.runs.recipe import Recipe
from bench.store import Store

FAST = Recipe(epochs=3, batch_size=128, lr=3e-3)
OMEGA_P_NOTE = ("selective degenerated: Omega_P covers every class (all 6 class priors above eta 0.05), so it "
                "equals ignore with focusing")


def test_selective_on_scene_rpa_records_its_coverage_and_degeneration(tmp_path):
    """With the defaults (eta 0.05, K 5) every class prior on scene+rpa[p=0.5] is above eta: Omega_P
    is every un-annotated entry, and the run says so."""
    resolved = resolve_config(RunConfig("selective", "scene+rpa[p=0.5]", recipe=FAST))
    with pytest.warns(RunNoteWarning) as caught:
        record = execute(resolved, Store(tmp_path / "runs.db"), progress=False).record
    assert [str(w.message) for w in caught if w.category is RunNoteWarning] == [OMEGA_P_NOTE]
    figures = record.extra["diagnostics"]["selective"]
    assert figures["classes_above_eta"] == figures["num_classes"] == 6
    assert figures["omega_p"] == figures["union"] == 1.0
    assert 0 < figures["omega_l"] <= 1 and figures["eta"] == 0.05 and figures["k"] == 5
    assert figures["steps"] >= record.cost["steps"]  # every step of the run: each lr / weight-decay candidate
    assert figures["summary"].startswith("selective: Omega_P 100.0%, Omega_L ")
    assert figures["summary"].endswith("union 100.0% of un-annotated training entries; 6/6 classes above eta 0.05")
    assert record.extra["notes"] == [OMEGA_P_NOTE]
    # the same instance trains a second run: its figures are that run's alone, not the sum of both
    with pytest.warns(RunNoteWarning):
        again = execute(resolved, Store(tmp_path / "again.db"), progress=False).record
    assert again.extra["diagnostics"]["selective"] == figures


def test_a_method_without_diagnostics_adds_nothing(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RunNoteWarning)
        record = execute(RunConfig("negative", "scene+rpa[p=0.5]", recipe=FAST), Store(tmp_path / "runs.db"),
                         progress=False).record
    assert "diagnostics" not in record.extra and "notes" not in record.extra
