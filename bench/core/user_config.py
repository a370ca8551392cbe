"""The user's own settings file: where their datasets live.

The file is YAML at ``$BENCH_CONFIG`` when set, else ``$XDG_CONFIG_HOME/bench/config.yaml`` (default
``~/.config/bench/config.yaml``). Today it holds one mapping, ``data_roots``: dataset plugin name ->
folder, written by ``bench data root NAME PATH`` and shown by ``bench doctor``::

    data_roots:
      lvis: /data/coco2017

A malformed file is an ``InputError`` naming it (and the line); it is rewritten atomically, so an
interrupted write never loses the settings already stored.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from bench.core.errors import InputError, writing
from bench.core.yamlfile import read_yaml


class UserConfigError(InputError):
    """The user config file cannot be read or holds a field of the wrong type."""


def user_config_path() -> Path:
    """``$BENCH_CONFIG``, else ``$XDG_CONFIG_HOME/bench/config.yaml`` (``~/.config`` by default)."""
    if os.environ.get("BENCH_CONFIG"):
        return Path(os.environ["BENCH_CONFIG"]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "bench" / "config.yaml"


def load_user_config() -> dict[str, Any]:
    """The parsed file ({} when there is none); ``data_roots`` checked to map names to folders."""
    path = user_config_path()
    if not path.is_file():
        return {}
    content = read_yaml(path, UserConfigError, "user config ") or {}
    if not isinstance(content, dict):
        raise UserConfigError(f"user config {path}: expected a mapping at the top level")
    roots = content.get("data_roots", {}) or {}
    if not isinstance(roots, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in roots.items()):
        raise UserConfigError(f"user config {path}: field 'data_roots' must map dataset names to folder paths")
    content["data_roots"] = roots
    return content


def data_roots() -> dict[str, str]:
    """Dataset name -> folder, as stored with ``bench data root``."""
    return dict(load_user_config().get("data_roots", {}))


def save_data_root(name: str, folder: str | None) -> Path:
    """Store (or, with ``folder=None``, remove) the root of dataset ``name``; returns the file."""
    path = user_config_path()
    content = load_user_config()
    roots = dict(content.get("data_roots", {}))
    if folder is None:
        roots.pop(name, None)
    else:
        roots[name] = folder
    content["data_roots"] = dict(sorted(roots.items()))
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(yaml.safe_dump(content, sort_keys=True), encoding="utf-8")
        os.replace(partial, path)
    return path
