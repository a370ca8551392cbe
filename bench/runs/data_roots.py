"""Where a dataset's files are when the selector does not say: ``root`` filled in once per user.

A dataset plugin whose ``root`` parameter defaults to None gets, when the selector gives no
``root``, in this order:

1. the folder stored for its name with ``bench data root NAME PATH`` (``bench.core.user_config``);
2. ``$BENCH_DATA/<data_folder>`` when ``BENCH_DATA`` is set and the plugin declares its
   ``data_folder`` (the shipped ones: ``coco/``, ``lvis/``, ``openimages/``, ``voc/``).

The filled-in root is an ordinary parameter from then on: it is part of the dataset's canonical
selector and so of the run's configuration, exactly as if the user had typed it. When a plugin
that declares ``data_folder`` (it cannot do without the user's files, unlike a plugin whose root
falls back to a vendored copy) still has no root, or one that names no folder, that is a
``MissingRootError`` naming the ways to give it and the files the folder must hold (the plugin's
``root_layout``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.core.errors import InputError
from bench.core.user_config import data_roots, user_config_path
from bench.plugins.dataset import DatasetPlugin


class MissingRootError(InputError):
    """A dataset's data folder is not given, or is not a folder."""


def uses_root(cls: type[DatasetPlugin]) -> bool:
    """Whether ``cls`` reads a ``root`` folder that it has no default for (and so takes the user's)."""
    param = cls.parameters.get("root")
    return param is not None and param.default is None


def default_root(cls: type[DatasetPlugin]) -> tuple[str, str] | None:
    """(folder, where it came from) for ``cls`` when it has no ``root``, or None."""
    if not uses_root(cls):
        return None
    stored = data_roots().get(cls.name)
    if stored:
        return str(Path(stored).expanduser()), f"stored in {user_config_path()}"
    base = os.environ.get("BENCH_DATA")
    if base and cls.data_folder:
        return str(Path(base).expanduser() / str(cls.data_folder)), f"BENCH_DATA={base}"
    return None


def fill_root(cls: type[DatasetPlugin], params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with ``root`` filled in from the user's settings when the selector gave none."""
    if params.get("root") not in (None, ""):
        return params
    found = default_root(cls)
    return params if found is None else {**params, "root": found[0]}


def _ways(cls: type[DatasetPlugin]) -> str:
    layout = f"; the folder must hold {cls.root_layout}" if cls.root_layout else ""
    bench_data = f", set BENCH_DATA=/data with the files in /data/{cls.data_folder}/" if cls.data_folder else ""
    return (f"pass root=/path (--dataset '{cls.name}[root=/path]'){bench_data}, or store it once with "
            f"'bench data root {cls.name} /path'{layout}")


def require_root(plugin: DatasetPlugin) -> None:
    """``MissingRootError`` when ``plugin`` declares a ``data_folder`` (so it cannot do without its
    files) and its ``root`` is not given or not a folder."""
    cls = type(plugin)
    if not uses_root(cls) or cls.data_folder is None:
        return
    root = plugin.params.get("root")
    if root in (None, ""):
        raise MissingRootError(f"dataset '{cls.name}': its data folder is not given: {_ways(cls)}")
    if not Path(str(root)).expanduser().is_dir():
        found = default_root(cls)
        origin = f" ({found[1]})" if found is not None and found[0] == str(Path(str(root)).expanduser()) else ""
        raise MissingRootError(f"dataset '{cls.name}': root {root}{origin} is not a folder: {_ways(cls)}")
