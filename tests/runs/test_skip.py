"""``bench.runs.skip``: the remembered configuration hash of a ``bench run`` input key holds only
while every input and file it depends on is unchanged."""
from __future__ import annotations

from bench.runs import skip
from bench.store import Store

OPTIONS = {"method": "negative", "dataset": "scene", "seed": 0, "recipe": None, "prior_path": None}


def test_the_hash_is_known_while_its_files_are_unchanged(tmp_path):
    store = Store(tmp_path / "s.db")
    helper = tmp_path / "helper.py"
    helper.write_text("SCALE = 1\n")
    key = skip.input_key(OPTIONS)
    assert skip.known_config_hash(store, key) is None
    skip.remember(store, key, "h" * 64, [helper])
    assert skip.known_config_hash(store, key) == "h" * 64
    helper.write_text("SCALE = 2\n")
    assert skip.known_config_hash(store, key) is None
    helper.unlink()
    assert skip.known_config_hash(store, key) is None


def test_the_input_key_follows_options_files_and_environment(tmp_path, monkeypatch):
    key = skip.input_key(OPTIONS)
    assert skip.input_key(dict(OPTIONS)) == key
    assert skip.input_key({**OPTIONS, "seed": 1}) != key
    recipe = tmp_path / "r.yaml"
    recipe.write_text("epochs: 3\n")
    with_recipe = skip.input_key({**OPTIONS, "recipe": str(recipe)})
    recipe.write_text("epochs: 4\n")
    assert skip.input_key({**OPTIONS, "recipe": str(recipe)}) != with_recipe
    monkeypatch.setenv("BENCH_DATA", str(tmp_path))
    assert skip.input_key(OPTIONS) != key
    monkeypatch.delenv("BENCH_DATA")
    plugins = tmp_path / "plugins" / "methods"
    plugins.mkdir(parents=True)
    (plugins / "extra.py").write_text("X = 1\n")
    monkeypatch.setenv("BENCH_PLUGIN_PATH", str(tmp_path / "plugins"))
    first = skip.input_key(OPTIONS)
    (plugins / "extra.py").write_text("X = 2\n")
    assert skip.input_key(OPTIONS) != first  # any plugin file's content is part of the key
