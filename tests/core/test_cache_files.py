"""Cache files are written atomically, and an unwritable cache folder is no error."""
from __future__ import annotations

from bench.core.paths import cache_dir, write_cache_text


def test_written_whole_with_no_temporary_left(tmp_path):
    target = tmp_path / "deep" / "index.json"
    assert write_cache_text(target, '{"a": 1}') and target.read_text() == '{"a": 1}'
    assert [p.name for p in target.parent.iterdir()] == ["index.json"]


def test_an_unwritable_folder_returns_false(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert write_cache_text(blocker / "index.json", "{}") is False


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("BENCH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x" / "bench"
