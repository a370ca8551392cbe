"""A plugin's identity: its name, its declared version and one hash of every source file its
computation depends on, so that editing any of them changes the configuration hash of its runs.

The files covered, found from the imported class and its module:

1. the file of the class and of each plugin base class (a preset and its base, e.g. ``ignore`` and
   ``p-asl``);
2. local helper modules: every module the plugin's module imports (directly, or through another
   helper) that is neither part of bench nor of an installed package: modules under the private
   plugin namespace (``from ._common import f`` in a plugin folder) and modules whose file lies in
   a plugin folder (``bench.plugins.registry.plugin_folders``);
3. delegated plugins: each call ``get_dataset_class("coco")``, ``get_dataset(...)``,
   ``get_method(...)`` or ``get_method_class(...)`` with a literal selector in those files names a
   plugin whose files are covered in turn (``coco-mini`` -> ``coco``), recursively.

A delegation through a name computed at run time cannot be seen in the source; such a plugin says
so by naming the plugin in a literal call. The hash is over file contents only (never paths), so it
is the same on every machine.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import re
import sys
import sysconfig
import types
from pathlib import Path
from typing import Any

from bench.plugins import registry

DELEGATING_CALLS = {"get_dataset_class": "datasets", "get_dataset": "datasets",
                    "get_method": "methods", "get_method_class": "methods"}
_ENGINE = Path(__file__).resolve().parents[1]
_INSTALLED = tuple({Path(p).resolve() for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["stdlib"],
                                                 sys.prefix, sys.base_prefix)})


def _module_file(module: types.ModuleType) -> Path | None:
    file = getattr(module, "__file__", None)
    return Path(file).resolve() if file else None


def _is_local(module: types.ModuleType) -> bool:
    """A helper module of a plugin: under the plugin namespace or in a plugin folder, not bench's,
    not an installed package's."""
    path = _module_file(module)
    if path is None or path.suffix != ".py" or path.is_relative_to(_ENGINE):
        return False
    if module.__name__.startswith(registry.PLUGIN_NAMESPACE + "."):
        return True
    if any(path.is_relative_to(root) for root in _INSTALLED):
        return False
    return any(path.is_relative_to(root) for root in registry.plugin_folders())


def _imported_names(module: types.ModuleType, tree: ast.Module) -> set[str]:
    """Absolute names of the modules ``module``'s source imports (``from ._common import f`` gives
    ``<package>._common``; ``from . import x`` also ``<package>.x``)."""
    package = module.__package__ or module.__name__.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            try:
                base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) \
                    if node.level else node.module or ""
            except ImportError:
                continue
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _imported_modules(module: types.ModuleType, tree: ast.Module | None) -> list[types.ModuleType]:
    """The modules ``module`` imports (by its source) or refers to (imported modules and the modules
    of imported names in its globals)."""
    found = [sys.modules[name] for name in sorted(_imported_names(module, tree)) if name in sys.modules] \
        if tree is not None else []
    for value in vars(module).values():
        name = getattr(value, "__module__", "") or ""
        target = value if isinstance(value, types.ModuleType) else sys.modules.get(name)
        if isinstance(target, types.ModuleType) and target is not module:
            found.append(target)
    return found


def delegated_names(source: str | ast.Module) -> list[tuple[str, str]]:
    """``(folder, plugin name)`` of each delegating call with a literal selector in ``source``
    (the name is the selector's plugin part: ``coco[root=x]+rpa[p=0.5]`` -> ``coco``)."""
    found = []
    for node in ast.walk(ast.parse(source) if isinstance(source, str) else source):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        first = node.args[0]
        if func in DELEGATING_CALLS and isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.append((DELEGATING_CALLS[func], re.split(r"[\[+]", first.value, maxsplit=1)[0].strip()))
    return found


def _class_file(klass: type) -> Path | None:
    try:
        return Path(inspect.getfile(klass)).resolve()
    except (TypeError, OSError):
        return None


def dependency_files(cls: type) -> list[Path]:
    """Every source file the identity of plugin class ``cls`` covers (see the module docstring)."""
    files: dict[Path, None] = {}
    seen_modules: set[str] = set()
    seen_plugins: set[type] = set()

    def visit_module(module: types.ModuleType) -> None:
        if module.__name__ in seen_modules:
            return
        seen_modules.add(module.__name__)
        path = _module_file(module)
        tree = None
        if path is not None and path.is_file():
            files[path] = None
            try:
                tree = ast.parse(path.read_bytes())
            except SyntaxError:
                tree = None  # the file changed since it was imported: its bytes are hashed all the same
            for folder, name in delegated_names(tree) if tree is not None else ():
                try:
                    visit_plugin(registry._REGISTRIES[folder].get(name))
                except registry.UnknownPluginError:
                    pass  # the run itself reports the unknown name
        for imported in _imported_modules(module, tree):
            if _is_local(imported):
                visit_module(imported)

    def visit_plugin(klass: type) -> None:
        if klass in seen_plugins:
            return
        seen_plugins.add(klass)
        for base in klass.__mro__:
            if base is klass or base.__module__.startswith(registry.PLUGIN_NAMESPACE):
                module = sys.modules.get(base.__module__)
                if module is not None:
                    visit_module(module)
                elif (path := _class_file(base)) is not None:
                    files[path] = None

    visit_plugin(cls)
    return list(files)


def source_hash(cls: type) -> str:
    """sha256 (first 16 hex) over the contents of ``dependency_files(cls)`` (set semantics: sorted
    by content digest, no paths)."""
    digests = sorted(hashlib.sha256(path.read_bytes()).hexdigest() for path in dependency_files(cls))
    if not digests:
        digests = [hashlib.sha256(f"{cls.__module__}.{cls.__qualname__}".encode()).hexdigest()]
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()[:16]


def plugin_identity(cls: type) -> dict[str, Any]:
    """What a run records about a plugin: name, version, source hash."""
    return {"name": cls.name, "version": str(getattr(cls, "version", "0")), "source_hash": source_hash(cls)}
