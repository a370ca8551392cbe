"""Deciding that a ``bench run`` is already done before importing the plugins (and torch).

The configuration hash needs the resolved configuration, and resolving it imports the plugins,
which import torch. But the hash is a function of what the command line says and of files: so
after a full resolution ``bench run`` remembers, in the store (artifact ``resolution``), its
*input key* -> the configuration hash and the sha256 of the plugin files the hash depends on. The
input key is the sha256 of:

- the options of ``bench run`` that say what is computed (not ``--store``, ``--device``,
  ``--workers``, ``--resume``, ``--force``, ``--quiet``);
- ``bench.plugins.index.sources_digest()``: bench's sources, every file of the plugin folders and
  the installed entry-point plugins;
- the contents of the shipped recipes, of a recipe file or prior file given by path, and of the user
  config file (data roots); the ``BENCH_*`` variables and ``WORLD_SIZE``; the installed versions of
  torch, torchvision and timm.

A later run with the same key whose recorded files are unchanged knows its hash without importing
anything: when the store holds that configuration done, it is skipped at once. Anything else
(a miss, a changed file, ``--force``) resolves in full, as before.
"""
from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.core.resources import shipped
from bench.plugins.index import sources_digest
from bench.store import Store

MEMO = "resolution"
PACKAGES = ("torch", "torchvision", "timm")


def _file_sha(path: str | Path | None) -> str | None:
    if path is None:
        return None
    try:
        return hashlib.sha256(Path(path).expanduser().read_bytes()).hexdigest()
    except OSError:
        return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _user_config_sha() -> str | None:
    from bench.core.user_config import user_config_path  # the file `bench data root` writes

    return _file_sha(user_config_path())


def input_key(options: dict[str, Any]) -> str:
    """sha256 of everything the configuration hash of these ``bench run`` options can depend on
    (see the module docstring)."""
    recipes = {p.name: _file_sha(p) for p in sorted(shipped("recipes").glob("*"))}
    inputs = {
        "options": options,
        "sources": sources_digest(),
        "recipes": recipes,
        "recipe_file": _file_sha(options.get("recipe")),
        "prior_file": _file_sha(options.get("prior_path")),
        "user_config": _user_config_sha(),
        "environment": {k: v for k, v in sorted(os.environ.items()) if k.startswith("BENCH_") or k == "WORLD_SIZE"},
        "packages": {name: _version(name) for name in PACKAGES},
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def known_config_hash(store: Store, key: str) -> str | None:
    """The configuration hash remembered for ``key`` when every file it depends on is unchanged."""
    found = store.get_artifact(MEMO, key)
    if found is None:
        return None
    meta = found[1]
    if any(_file_sha(path) != sha for path, sha in meta.get("files", {}).items()):
        return None
    return meta.get("config_hash")


def remember(store: Store, key: str, config_hash: str, files: list[Path]) -> None:
    """Remember that ``key`` resolves to ``config_hash`` while ``files`` keep their contents."""
    store.put_artifact(MEMO, key, b"", {"config_hash": config_hash,
                                        "files": {str(p): _file_sha(p) for p in sorted(set(files))}})


def resolved_files(resolved: Any) -> list[Path]:
    """The files the plugin identities of a ``ResolvedRun`` cover: its method, its dataset and the
    methods its artifacts train (e.g. the temporary ``ignore`` model of a class prior)."""
    from bench.plugins.identity import dependency_files
    from bench.plugins.registry import METHODS

    classes = [type(resolved.method), type(resolved.dataset.plugin)]
    for spec in resolved.method.required_artifacts().values():
        if isinstance(getattr(spec, "method", None), str):
            classes.append(METHODS.get(spec.method))
    return [path for cls in classes for path in dependency_files(cls)]
