"""Dependency sharing: Selective cells of one (data, split, recipe, seed) share one class prior,
trained once per sweep (and not again when a later sweep finds it in the store)."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.store import Store
from bench.sweep.deps import PRIOR, DependencyPlan, SharedArtifact, prior_group
from bench.sweep.driver import run_sweep
from bench.sweep.executors import LocalExecutor
from bench.sweep.grid import expand
from bench.sweep.shorthand import Shorthand, shorthand_spec
from bench.training import linear_mode


def _cells(methods: str, seeds: str = "0", params: list[str] | None = None, **run):
    return expand(shorthand_spec(Shorthand(methods=methods, datasets="scene+rpa[p=0.5]", seeds=seeds,
                                           params=params or [], epochs=1, run=run)))


def test_prior_group_keys_what_decides_the_prior():
    cells = _cells("selective,negative,selective[prior_estimator=running]", seeds="0,1", params=["gamma_neg=1,2"])
    group = {c.method + f"/{c.run.seed}": prior_group(c.config) for c in cells}
    assert group["selective[gamma_neg=1]/0"] == group["selective[gamma_neg=2]/0"]  # the loss does not matter
    assert group["selective[gamma_neg=1]/0"] != group["selective[gamma_neg=1]/1"]  # the seed does
    assert group["selective[prior_estimator=running,gamma_neg=1]/0"] != group["selective[gamma_neg=1]/0"]
    assert group["negative[gamma_neg=1]/0"] is None


def test_plan_lets_one_cell_produce_then_shares(store):
    first, second, third, negative = _cells("selective,negative", params=["gamma_neg=1,2,3"])[:4]
    plan = DependencyPlan([first, second, third, negative], store)
    assert plan.describe([first, second, third, negative]) == {
        0: "trains prior", 1: "prior from cell 0", 2: "prior from cell 0"}
    assert all(plan.ready(c) for c in (first, second, third, negative))
    assert plan.claim(first) == []                   # first produces the prior
    assert not plan.ready(second) and plan.ready(negative)
    plan.finished(first, [])                         # failed before producing it: the next one produces
    assert plan.ready(second) and plan.claim(second) == []
    assert not plan.ready(third)
    prior = SharedArtifact(PRIOR, "k", b"\x00" * 48, {"key": "k"})
    plan.finished(second, [prior])
    assert plan.ready(third) and plan.claim(third) == [prior]


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "bench.db")


def _count_prior_training(monkeypatch, counter: Path) -> None:
    """Every prior the linear mode trains appends a line to ``counter`` (forked cells inherit it)."""
    make_estimator = linear_mode.temporary_prior

    def counting_estimator(*args, **kwargs):
        estimate = make_estimator(*args, **kwargs)

        def counting(method, estimator):
            with counter.open("a") as handle:
                handle.write("trained\n")
            return estimate(method, estimator)

        return counting

    monkeypatch.setattr(linear_mode, "temporary_prior", counting_estimator)


def test_prior_trained_once_for_all_selective_cells(tmp_path, monkeypatch, store):
    counter = tmp_path / "prior_calls.txt"
    _count_prior_training(monkeypatch, counter)
    cells = _cells("selective", params=["gamma_neg=1,2,3"])
    summary = run_sweep(cells, store, LocalExecutor(workers=2, method="fork"))
    assert summary.done == 3 and not summary.failed
    assert counter.read_text().count("trained") == 1
    provenance = [r.extra["artifacts"][PRIOR] for r in store.runs()]
    assert sorted(p["cached"] for p in provenance) == [False, True, True]
    assert len({p["key"] for p in provenance}) == 1
    assert store.get_artifact(PRIOR, provenance[0]["key"]) is not None

    # a later sweep with one more Selective cell takes the prior from the store
    more = _cells("selective", params=["gamma_neg=1,2,3,4"])
    plan = DependencyPlan([more[3]], store)
    assert plan.describe([more[3]]) == {3: "prior from store"}
    summary = run_sweep(more, store, LocalExecutor(workers=2, method="fork"))
    assert summary.skipped_done == 3 and summary.done == 1
    assert counter.read_text().count("trained") == 1
    assert summary.records[0].extra["artifacts"][PRIOR]["cached"] is True
