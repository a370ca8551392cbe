"""Store: merging stores without duplicates; exporting runs to CSV and parquet with per-class AP."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from bench.store import Store, StoreError

SCENE = ["beach", "sunset", "fall foliage"]


def add_run(store: Store, config_hash: str, *, map_c: float = 70.0, scores=None, done: bool = True,
            dataset: str = "scene+rpa[p=0.5]", classes=SCENE, aps=(0.5, None, 0.75), seed: int = 0) -> str:
    run_id = store.start_run(config={"method": "negative", "lr": 0.001}, config_hash=config_hash,
                             method="negative", dataset=dataset, seed=seed, split_seed=1,
                             manifest_sha256="ab" * 32, env={"python": "3.11.7", "git_dirty": False})
    if done:
        store.finish_run(run_id, metrics={"map_c": map_c, "map_o": 80.0, "group_map": {"rare": 10.0}},
                         per_class_ap=list(aps), class_names=list(classes), evaluator="partial",
                         selection={"policy": "val", "epoch": 4}, timings={"wall_s": 2.5},
                         cost={"device": "cpu"}, test_scores=scores)
    return run_id


def test_merge_adds_missing_runs_and_artifacts_and_never_duplicates(tmp_path):
    here, there = Store(tmp_path / "here.db"), Store(tmp_path / "there.db")
    shared = add_run(here, "h1", scores=np.array([0.1, 0.2]))
    there.insert_record(here.get_run(shared), here.scores_blob(shared))
    mine = add_run(here, "h2")
    theirs = add_run(there, "h1", map_c=72.0, scores=np.array([0.3, 0.4, 0.5]))
    failed = add_run(there, "h3", done=False)
    there.fail_run(failed, "out of memory")
    here.put_artifact("class_prior", "a", b"here", {"from": "here"})
    there.put_artifact("class_prior", "a", b"there", {"from": "there"})
    there.put_artifact("class_prior", "b", b"new", {"from": "there"})

    counts = here.merge(there.path)
    assert counts == {"added": 2, "updated": 0, "skipped": 1, "artifacts_added": 1, "artifacts_skipped": 1}
    assert sorted(r.id for r in here.runs()) == sorted([shared, mine, theirs, failed])
    np.testing.assert_array_equal(here.get_run(theirs).test_scores(), np.array([0.3, 0.4, 0.5], np.float32))
    assert here.get_run(failed).error == "out of memory"
    assert here.get_run(theirs).to_dict() == there.get_run(theirs).to_dict()
    assert here.latest_done("h1").id == theirs, "attempts from both machines are kept"
    assert here.get_artifact("class_prior", "a") == (b"here", {"from": "here"})
    assert here.get_artifact("class_prior", "b") == (b"new", {"from": "there"})

    again = here.merge(there.path)
    assert again == {"added": 0, "updated": 0, "skipped": 3, "artifacts_added": 0, "artifacts_skipped": 2}
    assert len(here.runs()) == 4


def test_merge_completes_a_run_that_was_unfinished_here(tmp_path):
    """The same attempt merged while running, then finished on the other machine: merge completes it."""
    here, there = Store(tmp_path / "here.db"), Store(tmp_path / "there.db")
    run_id = add_run(there, "h1", done=False)
    assert here.merge(there.path)["added"] == 1
    there.finish_run(run_id, metrics={"map_c": 66.0}, per_class_ap=[0.1], class_names=["a"], evaluator="partial",
                     selection={"policy": "last"}, timings={}, cost={}, test_scores=np.ones(2))
    assert here.merge(there.path) == {"added": 0, "updated": 1, "skipped": 0,
                                      "artifacts_added": 0, "artifacts_skipped": 0}
    record = here.get_run(run_id)
    assert record.status == "done" and record.metrics == {"map_c": 66.0}
    np.testing.assert_array_equal(record.test_scores(), np.ones(2, np.float32))
    here.merge(there.path)
    assert [r.id for r in here.runs()] == [run_id]


def test_merge_rejects_what_is_not_a_store_and_changes_nothing(tmp_path):
    here = Store(tmp_path / "here.db")
    run_id = add_run(here, "h1")
    with pytest.raises(StoreError, match="missing.db: cannot merge: no such file"):
        here.merge(tmp_path / "missing.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"x" * 5000)
    with pytest.raises(StoreError, match="junk.db: not a readable SQLite database"):
        here.merge(junk)
    assert [r.id for r in here.runs()] == [run_id]


def test_export_csv_one_row_per_run_with_per_class_columns(tmp_path):
    store = Store(tmp_path / "bench.db")
    first = add_run(store, "h1", map_c=70.0, seed=0)
    second = add_run(store, "h1", map_c=72.0, seed=1)
    voc = add_run(store, "h9", dataset="voc+rpa[p=0.5]", classes=["cat", "dog"], aps=(0.9, 0.8))
    failed = add_run(store, "h4", done=False)
    store.fail_run(failed, "diverged")

    assert store.export(tmp_path / "out" / "runs.csv") == 4
    frame = pd.read_csv(tmp_path / "out" / "runs.csv")
    assert list(frame["id"]) == [first, second, voc, failed]
    assert list(frame.columns[-5:]) == ["ap/beach", "ap/sunset", "ap/fall foliage", "ap/cat", "ap/dog"]
    row = frame.set_index("id").loc[second]
    assert (row["map_c"], row["map_o"], row["group_map/rare"]) == (72.0, 80.0, 10.0)
    assert (row["seed"], row["split_seed"], row["config_hash"], row["method"]) == (1, 1, "h1", "negative")
    assert (row["selection/policy"], row["selection/epoch"], row["timings/wall_s"]) == ("val", 4, 2.5)
    assert (row["ap/beach"], row["ap/fall foliage"]) == (0.5, 0.75)
    assert math.isnan(row["ap/sunset"]) and math.isnan(row["ap/cat"])
    assert frame.set_index("id").loc[voc, "ap/dog"] == 0.8
    failed_row = frame.set_index("id").loc[failed]
    assert failed_row["status"] == "failed" and failed_row["error"] == "diverged" and math.isnan(failed_row["map_c"])

    assert store.export(tmp_path / "latest.csv", latest_done_per_config=True) == 2
    assert list(pd.read_csv(tmp_path / "latest.csv")["id"]) == [second, voc]


def test_export_parquet_matches_csv(tmp_path):
    store = Store(tmp_path / "bench.db")
    add_run(store, "h1")
    add_run(store, "h2", dataset="voc", classes=["cat"], aps=(0.9,))
    store.put_artifact("unused", "k", b"", {})
    run_id = add_run(store, "h3", done=False)
    store.fail_run(run_id, "boom")
    assert store.export(tmp_path / "runs.parquet", fmt="parquet") == 3
    assert store.export(tmp_path / "runs.csv") == 3
    table = pq.read_table(tmp_path / "runs.parquet")
    assert table.schema.field("ap/beach").type == "double" and table.schema.field("seed").type == "int64"
    from_parquet, from_csv = table.to_pandas(), pd.read_csv(tmp_path / "runs.csv")
    assert list(from_parquet.columns) == list(from_csv.columns)
    pd.testing.assert_frame_equal(from_parquet.select_dtypes("number"), from_csv.select_dtypes("number"),
                                  check_dtype=False)
    with pytest.raises(ValueError, match="export format 'ods' unknown; use one of csv, parquet, xlsx"):
        store.export(tmp_path / "runs.ods", fmt="ods")
