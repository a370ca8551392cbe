"""Plugin registry: ``@register_method`` / ``@register_dataset``, discovery, lookup.

Built-in plugins are the files of the shipped ``methods/`` and ``datasets/`` (one plugin per file;
found by ``bench.core.resources`` in every kind of install), imported under the private namespace
``_bench_plugins.<folder>.<stem>`` so nothing
shadows a real package (the HuggingFace ``datasets`` package in particular). Extra folders come from
``BENCH_PLUGIN_PATH`` (``os.pathsep``-separated folders holding ``methods/`` and/or ``datasets/``),
third-party packages from the entry-point groups ``bench.methods`` and ``bench.datasets``.
A plugin that fails to import is recorded with its error (``failed_plugins``) instead of breaking
the CLI. The engine never imports a concrete plugin by name.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import sys
import traceback
import types
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from bench.core.errors import BenchError, InputError
from bench.core.params import suggest
from bench.core.resources import shipped, shipped_root

T = TypeVar("T", bound=type)
PLUGIN_NAMESPACE = "_bench_plugins"
FOLDERS = ("methods", "datasets")


class UnknownPluginError(BenchError, KeyError):
    """No plugin of that kind and name (the message suggests the closest name)."""

    def __str__(self) -> str:
        return str(self.args[0])


class PluginImportError(UnknownPluginError):
    """The plugin file that defines the name failed to import (the message gives file, line, error)."""


_REGISTERED = re.compile(r"""register_(?:method|dataset)\(\s*["']([^"']+)["']""")


def describe_failure(source: str, exc: BaseException, path: Path | None = None) -> str:
    """``source:line: Type: message`` for an import failure; the line is the SyntaxError's, else
    the deepest traceback frame in ``path`` (omitted when unknown)."""
    line = None
    if isinstance(exc, SyntaxError) and exc.lineno is not None and (path is None or exc.filename in (None, str(path))):
        line = exc.lineno
    elif path is not None:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        line = frames[-1].lineno if frames else None
    message = exc.msg if isinstance(exc, SyntaxError) and exc.msg else " ".join(str(exc).split())
    where = f"{source}:{line}" if line is not None else source
    return f"{where}: {type(exc).__name__}: {message}" if message else f"{where}: {type(exc).__name__}"


class Registry:
    """Name -> plugin class for one plugin type: ``plugin_type`` "method" or "dataset", whose files
    live in ``folder`` ("methods", "datasets")."""

    def __init__(self, folder: str, plugin_type: str, entry_point_group: str):
        self.folder = folder
        self.plugin_type = plugin_type
        self.entry_point_group = entry_point_group
        self._classes: dict[str, type] = {}
        self.failed: dict[str, str] = {}
        self.failed_names: dict[str, tuple[str, ...]] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator registering ``cls`` under ``name`` and setting ``cls.name``."""

        def decorator(cls: T) -> T:
            existing = self._classes.get(name)
            if existing is not None and _qualname(existing) != _qualname(cls):
                raise ValueError(
                    f"{self.plugin_type} '{name}' registered twice: {_qualname(existing)} and {_qualname(cls)}"
                )
            cls.name = name
            self._classes[name] = cls
            return cls

        return decorator

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Registry]:
        """Within the block, registrations and import failures are temporary: on exit the registry
        is as it was on entry (after discovery), and plugin modules first imported in the block are
        forgotten, so a test's plugins never leak into another test."""
        discover()
        saved = dict(self._classes), dict(self.failed), dict(self.failed_names)
        modules = {name for name in sys.modules if name.startswith(PLUGIN_NAMESPACE + ".")}
        try:
            yield self
        finally:
            self._classes, self.failed, self.failed_names = saved
            for name in [m for m in sys.modules if m.startswith(PLUGIN_NAMESPACE + ".") and m not in modules]:
                del sys.modules[name]

    def names(self) -> list[str]:
        discover(folders=(self.folder,))
        return sorted(self._classes)

    def classes(self) -> dict[str, type]:
        discover(folders=(self.folder,))
        return dict(sorted(self._classes.items()))

    def get(self, name: str) -> type:
        """The class registered as ``name``. Raises ``PluginImportError`` when the file that
        defines ``name`` failed to import (with its file, line and error), else
        ``UnknownPluginError`` with the closest known name."""
        discover(folders=(self.folder,))
        if name not in self._classes:
            source = self._failed_source(name)
            if source is not None:
                raise PluginImportError(f"{self.plugin_type} '{name}' failed to import: {self.failed[source]}")
            broken = (f"; {len(self.failed)} plugin file(s) failed to import (bench list {self.folder})"
                      if self.failed else "")
            raise UnknownPluginError(
                f"unknown {self.plugin_type} '{name}'{suggest(name, tuple(self._classes))}; "
                f"known: {', '.join(sorted(self._classes)) or 'none'}{broken}"
            )
        return self._classes[name]

    def default(self) -> type:
        """The one registered class that declares ``is_default = True`` itself (not by inheritance):
        what ``bench run`` uses without ``--method`` / ``--dataset``."""
        chosen = [cls for cls in self.classes().values() if cls.__dict__.get("is_default", False)]
        if len(chosen) != 1:
            names = ", ".join(cls.name for cls in chosen) or "none"
            raise InputError(f"no single default {self.plugin_type} ({names} declare is_default = True): "
                             f"name one explicitly")
        return chosen[0]

    def _failed_source(self, name: str) -> str | None:
        """The failed plugin file that registers ``name`` (by its text, or by its file stem)."""
        wanted = name.replace("_", "-")
        for source in self.failed:
            if name in self.failed_names.get(source, ()) or Path(source).stem.replace("_", "-") == wanted:
                return source
        return None

    def record_failure(self, source: str, exc: BaseException, path: Path | None = None) -> None:
        """Record that ``source`` (a plugin file or an entry point) failed to import with ``exc``:
        one line ``file:line: Type: message``, and the plugin names its file registers."""
        self.failed[source] = describe_failure(source, exc, path)
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            self.failed_names[source] = tuple(_REGISTERED.findall(text))


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


METHODS = Registry("methods", "method", "bench.methods")
DATASETS = Registry("datasets", "dataset", "bench.datasets")
_REGISTRIES = {"methods": METHODS, "datasets": DATASETS}


def register_method(name: str) -> Callable[[T], T]:
    """Register a method class (a subclass of ``bench.Method``) under ``name``."""
    return METHODS.register(name)


def register_dataset(name: str) -> Callable[[T], T]:
    """Register a dataset class (a subclass of ``bench.DatasetPlugin``) under ``name``."""
    return DATASETS.register(name)


_discovered: set[str] = set()


def plugin_folders() -> list[Path]:
    """Folders searched for ``methods/`` and ``datasets/``: the built-ins, then BENCH_PLUGIN_PATH."""
    folders = [shipped_root()]
    for item in os.environ.get("BENCH_PLUGIN_PATH", "").split(os.pathsep):
        if item.strip():
            folders.append(Path(item).expanduser().resolve())
    return folders


def _ensure_namespace(name: str, folder: Path) -> None:
    """Namespace packages down to ``name``, whose ``__path__`` is ``folder``: a plugin imports a
    helper module of its folder relatively (``from ._common import f``)."""
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        mod = ".".join(parts[:i])
        if mod not in sys.modules:
            module = types.ModuleType(mod)
            module.__path__ = []
            sys.modules[mod] = module
    sys.modules[name].__path__ = [str(folder)]


def load_plugin_file(path: Path, folder: str) -> types.ModuleType | None:
    """Import one plugin file of ``folder`` ("methods" or "datasets") under the private namespace;
    record failures instead of raising."""
    path = Path(path).resolve()
    folder_tag = hashlib.sha1(str(path.parent.parent).encode()).hexdigest()[:8]
    builtin = path.parent == shipped(folder)
    namespace = f"{PLUGIN_NAMESPACE}.{folder}" if builtin else f"{PLUGIN_NAMESPACE}.x{folder_tag}.{folder}"
    module_name = f"{namespace}.{path.stem}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    _ensure_namespace(namespace, path.parent)
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the CLI
        del sys.modules[module_name]
        _REGISTRIES[folder].record_failure(str(path), exc, path)
        return None
    return module


def discover(force: bool = False, folders: tuple[str, ...] = FOLDERS) -> None:
    """Import every built-in, BENCH_PLUGIN_PATH and entry-point plugin of ``folders`` ("methods",
    "datasets"; once per process each): looking up a dataset never imports the method plugins (and
    the torch they import)."""
    for folder in folders:
        if folder in _discovered and not force:
            continue
        _discovered.add(folder)
        for root in plugin_folders():
            for path in sorted((root / folder).glob("*.py")):
                if not path.name.startswith("_"):
                    load_plugin_file(path, folder)
        registry = _REGISTRIES[folder]
        from importlib import metadata  # 20 ms, paid by discovery only, not by every command

        for ep in metadata.entry_points(group=registry.entry_point_group):
            try:
                obj = ep.load()
                if isinstance(obj, type) and ep.name not in registry._classes:
                    registry.register(ep.name)(obj)
            except Exception as exc:  # noqa: BLE001
                registry.record_failure(f"entry point {ep.value}", exc)


def failed_plugins() -> dict[str, str]:
    """Plugin file (or entry point) -> the error it raised on import, for both plugin types."""
    discover()
    return {**METHODS.failed, **DATASETS.failed}


def source_hash(cls: type) -> str:
    """sha256 (first 16 hex) of every source file plugin ``cls`` depends on: its class chain, its local
    helper modules and the plugins it delegates to (``bench.plugins.identity``)."""
    from bench.plugins.identity import source_hash as of_sources  # identity resolves delegates here

    return of_sources(cls)


def plugin_identity(cls: type) -> dict[str, Any]:
    """What a run records about a plugin: name, version, source hash (``bench.plugins.identity``)."""
    from bench.plugins.identity import plugin_identity as identity

    return identity(cls)
