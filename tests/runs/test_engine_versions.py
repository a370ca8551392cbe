"""Each engine part's version was reviewed against its current code (``bench.runs.engine_versions``)."""
from __future__ import annotations

import dataclasses

import pytest

from bench.runs.engine_versions import ENGINE, ENGINE_PARTS, part_files, source_digest


@pytest.mark.parametrize("name", sorted(ENGINE_PARTS))
def test_the_recorded_digest_matches_the_code(name):
    part = ENGINE_PARTS[name]
    digest = source_digest(part)
    assert digest == part.digest, (
        f"the code of engine part '{name}' ({', '.join(part.sources)} under bench/) changed since version "
        f"{part.version} was recorded: if the change alters what runs compute, bump its version in "
        f"bench/runs/engine_versions.py; either way record digest \"{digest}\" there")


def test_every_part_has_sources():
    for name, part in ENGINE_PARTS.items():
        files = part_files(part)
        assert files and all(f.is_file() and f.is_relative_to(ENGINE) for f in files), name


def test_prose_edits_do_not_count_but_code_edits_do(tmp_path, monkeypatch):
    module = tmp_path / "part.py"
    monkeypatch.setattr("bench.runs.engine_versions.ENGINE", tmp_path)
    part = dataclasses.replace(ENGINE_PARTS["metrics"], sources=("part.py",))
    module.write_text('"""Doc."""\nimport math\n\n\ndef f(x):\n    """Square."""\n    return x * x\n')
    before = source_digest(part)
    module.write_text('"""Other doc."""\nimport math  # a comment\n\ndef f(x):\n    return x * x   # same\n')
    assert source_digest(part) == before
    module.write_text('"""Doc."""\nimport math\n\n\ndef f(x):\n    return x * x * 1.0\n')
    assert source_digest(part) != before
