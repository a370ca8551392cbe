"""The plugin registry: discovery of files a test writes, failures listed, did-you-mean, entry points."""
from __future__ import annotations

import re
import sys
from importlib import metadata

import pytest
from typer.testing import CliRunner

from bench.cli.app import app
from bench.core.resources import shipped
from bench.plugins import registry
from bench.plugins.registry import DATASETS, METHODS, UnknownPluginError, failed_plugins, plugin_identity
from tests.helpers.plugins import temporary_plugins

TMP_METHOD = """
    import torch
    from bench import Method, Param, register_method

    @register_method("tmp-halfsum")
    class HalfSum(Method):
        version = "3"
        description = "a temporary method written by a test"
        parameters = {"scale": Param(0.5, help="multiplier")}

        def loss(self, logits, labels, state=None):
            return self.scale * (logits * labels.float()).sum()
"""
BROKEN = """
    import not_a_module_that_exists  # noqa: F401
"""


def test_temporary_plugin_is_discovered_with_identity(tmp_path, monkeypatch):
    with temporary_plugins(tmp_path, monkeypatch, {"methods/halfsum.py": TMP_METHOD}):
        cls = METHODS.get("tmp-halfsum")
        assert cls.name == "tmp-halfsum" and "tmp-halfsum" in METHODS.names()
        assert cls.__module__.startswith(registry.PLUGIN_NAMESPACE + ".x")
        identity = plugin_identity(cls)
        assert identity["version"] == "3" and len(identity["source_hash"]) == 16
        assert cls().params == {"scale": 0.5}
    assert "tmp-halfsum" not in METHODS.names()


def test_source_hash_follows_the_file(tmp_path, monkeypatch):
    with temporary_plugins(tmp_path, monkeypatch, {"methods/halfsum.py": TMP_METHOD}):
        cls = METHODS.get("tmp-halfsum")
        before = plugin_identity(cls)["source_hash"]
        path = tmp_path / "methods" / "halfsum.py"
        path.write_text(path.read_text() + "\n# edited\n")
        assert plugin_identity(cls)["source_hash"] != before


def test_broken_plugin_is_listed_with_its_error(tmp_path, monkeypatch):
    files = {"methods/broken_loss.py": BROKEN, "methods/halfsum.py": TMP_METHOD}
    with temporary_plugins(tmp_path, monkeypatch, files):
        failures = failed_plugins()
        key = str((tmp_path / "methods" / "broken_loss.py").resolve())
        assert key in failures and "not_a_module_that_exists" in failures[key]
        assert "tmp-halfsum" in METHODS.names()  # the others still load
        with pytest.raises(UnknownPluginError, match=r"failed to import: .*broken_loss\.py:\d+: ModuleNotFoundError"):
            METHODS.get("broken-loss")
        result = CliRunner().invoke(app, ["list", "methods"])
        assert result.exit_code == 0, result.output
        assert "tmp-halfsum" in result.output and "scale=0.5" in result.output
        assert "broken_loss.py" in result.output and "not_a_module_that_exists" in result.output


def test_unknown_names_suggest_the_closest():
    with pytest.raises(UnknownPluginError, match="did you mean 'negative'"):
        METHODS.get("negatve")
    with pytest.raises(UnknownPluginError, match="did you mean 'scene'"):
        DATASETS.get("scnee")
    with pytest.raises(UnknownPluginError) as info:
        METHODS.get("zzzzzz")
    assert "did you mean" not in str(info.value) and "known:" in str(info.value)


def test_builtin_plugins_do_not_shadow_the_datasets_package():
    module = sys.modules[DATASETS.get("scene").__module__]
    assert module.__name__ == f"{registry.PLUGIN_NAMESPACE}.datasets.scene"
    assert "datasets.scene" not in sys.modules and "scene" not in sys.modules
    shadow = sys.modules.get("datasets")
    assert shadow is None or not str(getattr(shadow, "__file__", "") or "").startswith(str(shipped("datasets")))


def test_entry_point_plugins_are_registered(monkeypatch):
    module = type(sys)("tmp_entry_point_plugin")
    exec(
        "from bench import Method\n"
        "class EntryLoss(Method):\n"
        "    def loss(self, logits, labels, state=None):\n"
        "        return logits.sum()\n",
        module.__dict__,
    )
    monkeypatch.setitem(sys.modules, "tmp_entry_point_plugin", module)
    points = {"bench.methods": [metadata.EntryPoint("ep-loss", "tmp_entry_point_plugin:EntryLoss", "bench.methods"),
                                metadata.EntryPoint("ep-broken", "no_such_module:X", "bench.methods")]}
    monkeypatch.setattr(metadata, "entry_points", lambda group: points.get(group, []))
    before = dict(METHODS._classes)
    try:
        registry.discover(force=True)
        assert METHODS.get("ep-loss") is module.EntryLoss
        assert any(k.startswith("entry point no_such_module") for k in METHODS.failed)
    finally:
        METHODS._classes = before
        METHODS.failed.pop("entry point no_such_module:X", None)


SYNTAX_ERROR = """
    from bench import Method, register_method

    @register_method("tmp-typo")
    class Typo(Method)
        pass
"""
RAISES = """
    from bench import Method, register_method

    SCALE = 1 / 0

    @register_method("tmp-divides")
    class Divides(Method):
        pass
"""


def test_a_plugin_that_fails_to_import_is_reported_with_file_and_line_wherever_named(tmp_path, monkeypatch):
    files = {"methods/typo_file.py": SYNTAX_ERROR, "methods/raises_file.py": RAISES}
    with temporary_plugins(tmp_path, monkeypatch, files):
        typo = tmp_path / "methods" / "typo_file.py"
        with pytest.raises(registry.PluginImportError,
                           match=rf"'tmp-typo' failed to import: {re.escape(str(typo))}:5: SyntaxError: expected ':'"):
            METHODS.get("tmp-typo")
        raises = tmp_path / "methods" / "raises_file.py"
        with pytest.raises(registry.PluginImportError,
                           match=rf"{re.escape(str(raises))}:4: ZeroDivisionError: division by zero"):
            METHODS.get("tmp-divides")
        with pytest.raises(UnknownPluginError, match=r"2 plugin file\(s\) failed to import") as info:
            METHODS.get("tmp-absent")
        assert not isinstance(info.value, registry.PluginImportError)
        run = CliRunner().invoke(app, ["run", "--method", "tmp-typo", "--dataset", "scene"])
        assert run.exit_code == 2
        assert f"{typo}:5: SyntaxError: expected ':'" in run.output and "Traceback" not in run.output
        sweep = CliRunner().invoke(app, ["sweep", "--method", "tmp-divides", "--dataset", "scene", "--dry-run"])
        assert sweep.exit_code == 2 and f"{raises}:4: ZeroDivisionError" in sweep.output, sweep.output
        listing = CliRunner().invoke(app, ["list", "methods"])
        assert f"{typo}:5: SyntaxError: expected ':'" in listing.output


def test_snapshot_forgets_registrations_failures_and_modules():
    before = METHODS.names()
    with METHODS.snapshot():
        @registry.register_method("tmp-inside-snapshot")
        class Inside:  # noqa: B903 - a registration is all this test needs
            pass

        METHODS.failed["somewhere.py"] = "somewhere.py:1: SyntaxError: x"
        sys.modules[registry.PLUGIN_NAMESPACE + ".methods.tmp_inside"] = sys
        assert "tmp-inside-snapshot" in METHODS.names()
    assert METHODS.names() == before and "somewhere.py" not in METHODS.failed
    assert registry.PLUGIN_NAMESPACE + ".methods.tmp_inside" not in sys.modules
