"""Image paths stay inside the dataset root unless the user allows otherwise.

An annotation file names its images (a COCO ``file_name``, a row of a folder's ``labels.csv``, an
OpenImages id); a path that is absolute, climbs out with ``..`` or passes through a symlink can
point anywhere (``/etc/hostname``). ``outside_root(paths, root)`` returns the first path that
resolves (symlinks and ``..`` resolved, as ``os.path.realpath`` does) outside ``realpath(root)``;
``require_inside_root`` turns it into a ``DataError`` unless ``allow_outside_root=true``.

Cost: one ``realpath`` per distinct parent folder and one ``scandir`` of it (to find the symlinks
among its entries), then string work per path; compact id sequences (``bench.io.idseq``) are
checked without rendering each path.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from bench.core.lazy_module import LazyModule
from bench.core.params import Param
from bench.io.errors import DataError
from bench.io.idseq import ArrowStrings, HexIds, hex_keys

pa = LazyModule("pyarrow")
pc = LazyModule("pyarrow.compute")

ALLOW_OUTSIDE_ROOT = Param(False, help="accept image paths that resolve (symlinks, '..', absolute) outside root")


class _Folder:
    """One parent folder: its resolved path and the names of the symlinks in it."""

    def __init__(self, head: str):
        self.real = os.path.realpath(head or ".")
        self.links: set[str] = set()
        try:
            with os.scandir(head or ".") as listing:
                self.links = {entry.name for entry in listing if entry.is_symlink()}
        except OSError:  # missing or unreadable: nothing in it can be a symlink we follow
            pass


class _Root:
    def __init__(self, root: str | Path):
        self.real = os.path.realpath(root)
        self.prefix = self.real if self.real.endswith(os.sep) else self.real + os.sep
        self.folders: dict[str, _Folder] = {}

    def inside(self, real: str) -> bool:
        return real == self.real or real.startswith(self.prefix)

    def folder(self, head: str) -> _Folder:
        found = self.folders.get(head)
        if found is None:
            found = self.folders[head] = _Folder(head)
        return found

    def resolve(self, path: str) -> str:
        head, name = os.path.split(path)
        if name in ("", ".", ".."):
            return os.path.realpath(path)
        folder = self.folder(head)
        return os.path.realpath(path) if name in folder.links else os.path.join(folder.real, name)


def _first_outside_list(paths: Sequence[str], root: _Root, rows: Sequence[int] | None = None) -> tuple[int, str] | None:
    for i in rows if rows is not None else range(len(paths)):
        real = root.resolve(os.fspath(paths[i]))
        if not root.inside(real):
            return i, real
    return None


def _first_outside_compact(paths: HexIds | ArrowStrings, root: _Root) -> tuple[int, str] | None:
    prefix, suffix = paths.prefix, paths.suffix
    head = prefix[:-1] if prefix.endswith("/") else None
    if head is None or "/" in suffix or len(paths) == 0:
        return _first_outside_list(paths, root)
    candidates: list[int] = []
    if isinstance(paths, ArrowStrings):  # values that are not one plain file name: check them one by one
        values = paths.values
        odd = pc.match_substring(values, "/")
        if not suffix:
            odd = pc.or_(odd, pc.is_in(values, value_set=pa.array(["", ".", ".."])))
        candidates = np.flatnonzero(np.asarray(odd.fill_null(True))).tolist()
    found = _first_outside_list(paths, root, candidates) if candidates else None
    folder = root.folder(head)
    if not root.inside(folder.real):  # the image folder itself is elsewhere: the first row says so
        return _first_outside_list(paths, root)
    outside = []
    for name in sorted(folder.links):
        real = os.path.realpath(os.path.join(head, name))
        if root.inside(real) or not name.endswith(suffix):
            continue
        stem = name[: len(name) - len(suffix)] if suffix else name
        if isinstance(paths, HexIds):
            key = hex_keys(pa.array([stem]))
            rows = np.flatnonzero(paths.keys == key[0]) if key is not None else np.zeros(0, np.int64)
        else:
            index = pc.index(paths.values, stem).as_py()
            rows = np.array([index]) if index >= 0 else np.zeros(0, np.int64)
        if rows.size:
            outside.append((int(rows[0]), real))
    hits = [h for h in [found, *outside] if h is not None]
    return min(hits) if hits else None


def _first_nul(paths: Sequence[str]) -> int | None:
    """The first row whose path holds a NUL byte (no file can have that name), or None."""
    if isinstance(paths, HexIds):
        return None
    if isinstance(paths, ArrowStrings):
        if "\x00" in paths.prefix + paths.suffix:
            return 0
        hit = np.flatnonzero(np.asarray(pc.match_substring(paths.values, "\x00").fill_null(False)))
        return int(hit[0]) if hit.size else None
    return next((i for i, p in enumerate(paths) if "\x00" in os.fspath(p)), None)


def outside_root(paths: Sequence[str], root: str | Path) -> tuple[int, str] | None:
    """(row, resolved path) of the first of ``paths`` resolving outside ``root``, or None.
    ``ValueError`` when a path holds a NUL byte (``require_inside_root`` reports it)."""
    if _first_nul(paths) is not None:
        raise ValueError("embedded null byte")
    resolver = _Root(root)
    if isinstance(paths, (HexIds, ArrowStrings)):
        return _first_outside_compact(paths, resolver)
    return _first_outside_list(paths, resolver)


def require_inside_root(paths: Sequence[str], root: str | Path, allow: bool, source: str | Path | None,
                        field: str | None, label: Callable[[int], str] | None = None,
                        line: Callable[[int], int | None] | None = None) -> None:
    """``DataError`` naming ``source`` and ``field`` (and the row's ``label`` / ``line``) when an image
    path resolves outside ``root``; nothing is checked when ``allow`` (``allow_outside_root=true``)."""
    nul = _first_nul(paths)
    if nul is not None:
        what = label(nul) if label else f"image {paths[nul]!r}"
        raise DataError(f"{what}: the image path holds a NUL byte", source, line(nul) if line else None, field)
    if allow:
        return
    hit = outside_root(paths, root)
    if hit is None:
        return
    row, real = hit
    what = label(row) if label else f"image {paths[row]}"
    raise DataError(f"{what} resolves to {real}, outside the dataset root {os.path.realpath(root)} "
                    "(allow_outside_root=true accepts it)", source, line(row) if line else None, field)
