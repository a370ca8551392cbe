"""``LazyModule`` imports its module at the first attribute access only, then behaves as it; plugin
discovery and a dense scene run import no pyarrow."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from bench.core.lazy_module import LazyModule


def test_nothing_is_imported_before_an_attribute_is_read():
    code = textwrap.dedent("""
        import sys
        from bench.core.lazy_module import LazyModule
        lazy = LazyModule("fractions")
        before = "fractions" in sys.modules
        value = lazy.Fraction(1, 3)
        print(before, "fractions" in sys.modules, value == sys.modules["fractions"].Fraction(1, 3))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True", "True"]


def test_attributes_and_errors_are_the_real_modules():
    import json

    lazy = LazyModule("json")
    assert lazy.dumps is json.dumps and lazy.JSONDecodeError is json.JSONDecodeError
    assert repr(lazy) == "LazyModule('json')"


def test_discovery_and_a_scene_load_import_no_pyarrow():
    code = textwrap.dedent("""
        import sys
        from bench.plugins.registry import discover
        from bench.runs.resolve import get_dataset
        discover()
        get_dataset("scene")
        print("pyarrow" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
