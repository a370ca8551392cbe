"""Store: a store written by the first schema (v1) opens with the current code, data intact."""
from __future__ import annotations

import sqlite3

import numpy as np

from bench.store import LATEST_VERSION, Store, encode_scores
from bench.store.schema import ensure_schema

# The v1 schema exactly as bench 0.1.0 first shipped it (frozen here: a released migration never changes).
V1_SCHEMA = [
    """CREATE TABLE schema_version (
            version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)""",
    """CREATE TABLE runs (
            id TEXT PRIMARY KEY, config_hash TEXT NOT NULL, status TEXT NOT NULL,
            method TEXT NOT NULL, dataset TEXT NOT NULL, config TEXT NOT NULL,
            manifest_sha256 TEXT NOT NULL, seed INTEGER NOT NULL, split_seed INTEGER NOT NULL,
            evaluator TEXT, selection TEXT, metrics TEXT, per_class_ap TEXT, class_names TEXT,
            timings TEXT, cost TEXT, env TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
            created_at TEXT NOT NULL, finished_at TEXT, heartbeat_at TEXT NOT NULL,
            error TEXT, extra TEXT NOT NULL)""",
    """CREATE TABLE test_scores (
            run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE, blob BLOB NOT NULL)""",
    """CREATE TABLE artifacts (
            kind TEXT NOT NULL, key TEXT NOT NULL, payload BLOB NOT NULL, meta TEXT NOT NULL,
            created_at TEXT NOT NULL, PRIMARY KEY (kind, key))""",
]
RUN_ID = "0123456789abcdef0123456789abcdef"
SCORES = np.array([0.25, 0.5, 0.75], dtype=np.float32)


def schema_sql(path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    return {name: " ".join(sql.split()) for name, sql in rows}


def write_v1_store(path) -> None:
    """A v1 store as an old bench left it: one done run with scores, an attempt that failed, an artifact."""
    with sqlite3.connect(path) as conn:
        for statement in V1_SCHEMA:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (1, 'create', '2024-05-01T10:00:00+00:00')")
        run = (RUN_ID, "hash-a", "done", "negative", "scene+rpa[p=0.5]", '{"lr": 0.001}', "ab" * 32, 0, 1,
               "partial", '{"policy": "val", "epoch": 4}', '{"map_c": 71.5, "map_o": 80.0}', "[0.5, null]",
               '["beach", "urban"]', '{"wall_s": 2.0}', '{"device": "cpu"}', '{"python": "3.11.7"}', "old-host",
               4242, "2024-05-01T10:00:00.000000+00:00", "2024-05-01T10:01:00.000000+00:00",
               "2024-05-01T10:01:00.000000+00:00", None, "{}")
        conn.execute(f"INSERT INTO runs VALUES ({', '.join('?' * len(run))})", run)
        failed = ("f" * 32, "hash-a", "failed", *run[3:9], *[None] * 7, *run[16:19],
                  "2024-05-01T09:00:00.000000+00:00", "2024-05-01T09:00:05.000000+00:00",
                  "2024-05-01T09:00:05.000000+00:00", "NaN loss", "{}")
        conn.execute(f"INSERT INTO runs VALUES ({', '.join('?' * len(failed))})", failed)
        conn.execute("INSERT INTO test_scores VALUES (?, ?)", (RUN_ID, encode_scores(SCORES)))
        conn.execute("INSERT INTO artifacts VALUES ('class_prior', 'k', ?, '{\"n\": 2}', '2024-05-01T10:02:00+00:00')",
                     (b"\x00\x01",))


def test_v1_fixture_is_what_migration_1_creates(tmp_path):
    with sqlite3.connect(tmp_path / "code.db", isolation_level=None) as conn:
        ensure_schema(conn, tmp_path / "code.db", timeout=5.0, target=1)
    write_v1_store(tmp_path / "fixture.db")
    assert schema_sql(tmp_path / "code.db") == schema_sql(tmp_path / "fixture.db")


def test_v1_store_migrates_to_latest_and_keeps_its_data(tmp_path):
    path = tmp_path / "bench.db"
    write_v1_store(path)
    assert "runs_by_config" not in schema_sql(path)

    store = Store(path)
    with store._connection() as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_version ORDER BY version")]
        plan = " ".join(row[-1] for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM runs WHERE config_hash = ? AND status = 'done' "
            "ORDER BY created_at DESC, id DESC LIMIT 1", ("hash-a",)))
    assert versions == list(range(1, LATEST_VERSION + 1))
    assert "runs_by_config" in plan, f"the skip lookup uses the v2 index: {plan}"

    record = store.get_run(RUN_ID[:8])
    assert (record.status, record.config, record.metrics["map_c"]) == ("done", {"lr": 0.001}, 71.5)
    assert record.per_class_ap == [0.5, None] and record.class_names == ["beach", "urban"]
    assert record.selection == {"policy": "val", "epoch": 4} and record.host == "old-host"
    np.testing.assert_array_equal(record.test_scores(), SCORES)
    assert store.latest_done("hash-a").id == RUN_ID
    assert [r.status for r in store.runs()] == ["failed", "done"]
    assert store.get_artifact("class_prior", "k") == (b"\x00\x01", {"n": 2})

    new_id = store.start_run(config={}, config_hash="hash-b", method="m", dataset="d", seed=0, split_seed=0,
                             manifest_sha256="0" * 64, env={})
    assert Store(path).get_run(new_id).status == "running", "reopening a migrated store changes nothing"
