"""The plugin index: what ``bench list`` shows about every plugin, cached so that listing never
imports the plugins (and the torch they import at the top of their files).

Plugins stay ordinary Python files: their declarations (``parameters`` built by helper functions,
presets that subclass a base) are only known by importing them. So the index is built by importing
every plugin once (``discover``) and saved as JSON under the user cache folder, keyed by
``sources_digest()``: the contents of every plugin file in the plugin folders, of bench's own
sources and the installed entry-point plugins. Any edit there rebuilds the index on the next
listing (which then imports torch once); otherwise ``bench list`` reads the JSON. An index with an
import failure is never saved: the failure may come from the environment (a missing package), so
the next listing imports again; neither is an index holding a class registered by code that is
not a plugin file or an entry point (a test's).

Cache folder: ``$BENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/bench``, else ``~/.cache/bench``; an
unwritable folder only means no cache.
"""
from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.core.params import Param
from bench.core.paths import cache_dir, write_cache_text
from bench.core.version import __version__
from bench.plugins import registry

ENGINE = Path(__file__).resolve().parents[1]
ENTRY_POINT_GROUPS = ("bench.methods", "bench.datasets", "bench.modes")


def source_files() -> list[Path]:
    """bench's ``.py`` files and every ``.py`` file of the plugin folders' ``methods/`` and ``datasets/``."""
    files = sorted(ENGINE.rglob("*.py"))
    for root in registry.plugin_folders():
        for folder in registry.FOLDERS:
            files.extend(sorted((root / folder).glob("*.py")))
    return files


def entry_point_plugins() -> list[str]:
    """``group name=value (dist version)`` of every installed entry-point plugin and mode."""
    found = []
    for group in ENTRY_POINT_GROUPS:
        for ep in metadata.entry_points(group=group):
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else "?"
            found.append(f"{group} {ep.name}={ep.value} ({dist})")
    return sorted(found)


def sources_digest() -> str:
    """sha256 over bench's version, the path and contents of each of ``source_files()`` and the
    entry-point plugins: equal digests mean the same plugins are declared the same way."""
    digest = hashlib.sha256(__version__.encode())
    for path in source_files():
        try:
            digest.update(f"\n{path}\n".encode() + path.read_bytes())
        except OSError:
            digest.update(f"\n{path} unreadable\n".encode())
    digest.update("\n".join(entry_point_plugins()).encode())
    return digest.hexdigest()


def param_entry(param: Param) -> dict[str, Any]:
    """A declared parameter as JSON: its default as ``repr``, its bounds, choices and help."""
    return {"default": repr(param.default), "bounds": param.bounds, "help": param.help,
            "choices": None if param.choices is None else [repr(c) for c in param.choices]}


def _registered_base(cls: type, names: dict[type, str]) -> str | None:
    """The nearest registered plugin class ``cls`` derives from (a preset's base), else None."""
    return next((names[base] for base in cls.__mro__[1:] if base in names), None)


def plugin_entries(classes: dict[str, type]) -> list[dict[str, Any]]:
    """One entry per registered class: name, version, description, modality, base and parameters."""
    names = {cls: name for name, cls in classes.items()}
    return [{"name": name, "version": str(cls.version), "description": cls.description,
             "modality": getattr(cls, "modality", None), "base": _registered_base(cls, names),
             "is_default": bool(cls.__dict__.get("is_default", False)),
             "parameters": {key: param_entry(p) for key, p in cls.parameters.items()}}
            for name, cls in classes.items()]


def _from_sources(classes: dict[str, type]) -> bool:
    """Every class was registered by a plugin file or an entry point (not by code run in this
    process only, e.g. a test's), so the index describes the sources its key covers."""
    entry_modules = {ep.module for group in ENTRY_POINT_GROUPS for ep in metadata.entry_points(group=group)}
    return all(cls.__module__.startswith(registry.PLUGIN_NAMESPACE + ".") or cls.__module__ in entry_modules
               for cls in classes.values())


def build_index(folder: str) -> dict[str, Any]:
    """Import the plugins of ``folder`` ("methods" or "datasets") and describe them:
    ``{"entries": [...], "failed": {source: error}}``."""
    reg = registry._REGISTRIES[folder]
    return {"entries": plugin_entries(reg.classes()), "failed": dict(sorted(reg.failed.items()))}


def plugin_index(folder: str) -> dict[str, Any]:
    """The index of ``folder`` for the current sources: read from the cache, else built (and
    cached when no plugin failed to import and every class came from the sources)."""
    key = sources_digest()
    path = cache_dir() / f"plugin-index-{folder}.json"
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if cached.get("key") == key:
            return cached["index"]
    except (OSError, ValueError, AttributeError):
        pass
    index = build_index(folder)
    if not index["failed"] and _from_sources(registry._REGISTRIES[folder].classes()):
        write_cache_text(path, json.dumps({"key": key, "index": index}))  # unwritable: listing imports again
    return index


