"""Versions of the engine parts that define what a run computes, part of every configuration hash.

A stored result is reused only while the code that produced it is unchanged in meaning. Plugins are
covered by their source hash (``bench.plugins.identity``); the engine by an explicit version per
part, declared here. Each part is a list of source paths (relative to the ``bench`` package) with
its ``version`` and the ``digest`` of those sources recorded when the version was last reviewed.

Why a version and not the engine's source hash: hashing the engine would invalidate every stored
run on any edit (a docstring, a progress bar, a refactor), so a researcher's store would be
recomputed for nothing. A version says "results changed"; ``tests/runs/test_engine_versions.py``
makes sure nobody forgets it: it recomputes each part's ``source_digest`` (docstrings and comments
stripped, so prose edits never count) and fails when it differs from the recorded ``digest``, asking
the author to bump ``version`` if the change alters what runs compute, and to record the new digest
either way (``python -m bench.runs.engine_versions`` prints them).

Changing a version changes the configuration hash of every run that uses the part, so the next
``bench run`` / ``bench sweep`` trains again instead of skipping an out-of-date result.
"""
from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class EnginePart:
    """One part of the engine: its ``version``, its ``sources`` (files or folders under ``bench/``)
    and the ``digest`` of those sources when ``version`` was last reviewed."""

    version: str
    sources: tuple[str, ...]
    digest: str


ENGINE_PARTS: dict[str, EnginePart] = {
    "labels": EnginePart("1", ("labels",), "33856353839aee3c"),  # encoding, splits, protocols, sampling, manifests
    "metrics": EnginePart("1", ("metrics",), "4f33ea5655e0512f"),  # AP, mAP(C) / mAP(O), evaluators
    "readers": EnginePart("1", ("io",), "e0f1bf6532899ed3"),  # the published formats datasets read
    "plugin-base": EnginePart("2", ("plugins/method.py", "plugins/dataset.py", "plugins/batch.py"),
                              "c40200cb1eb96ed3"),  # hooks, image checks, the global batch of DDP rules
    "prior": EnginePart("2", ("runs/prior.py", "runs/artifacts.py"), "bb112c75d107ddef"),  # the class prior artifact
    "trainer": EnginePart("3", ("training",), "4d5daeaaab2c6c45"),  # linear and finetune modes, trainer, heads, images
}


def part_files(part: EnginePart) -> list[Path]:
    """The ``.py`` files of ``part``, sorted by their path under ``bench/``."""
    files: set[Path] = set()
    for source in part.sources:
        path = ENGINE / source
        files.update(path.rglob("*.py") if path.is_dir() else [path])
    return sorted(files, key=lambda p: p.relative_to(ENGINE).as_posix())


def _without_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return tree


def source_digest(part: EnginePart) -> str:
    """sha256 (first 16 hex) of the part's code: each file's path and its source re-printed from
    the syntax tree without docstrings (comments and formatting never count)."""
    digest = hashlib.sha256()
    for path in part_files(part):
        code = ast.unparse(_without_docstrings(ast.parse(path.read_text(encoding="utf-8"))))
        digest.update(f"{path.relative_to(ENGINE).as_posix()}\n{code}\n".encode())
    return digest.hexdigest()[:16]


def engine_versions() -> dict[str, dict[str, str]]:
    """``{part: {"version": v}}``: what the configuration hash records about the engine."""
    return {name: {"version": part.version} for name, part in ENGINE_PARTS.items()}


if __name__ == "__main__":
    for name, part in ENGINE_PARTS.items():
        print(f"{name}: version {part.version}, recorded digest {part.digest}, source digest {source_digest(part)}")
