"""The layering rule of docs/ARCHITECTURE.md, enforced on the source: engine imports point down the
layers, module-level imports form no cycle, and plugins use only the engine's public API."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ENGINE = REPO / "bench"
# Lowest first: a package may import its own modules and those of the packages before it.
LAYERS = ("core", "labels", "metrics", "io", "plugins", "store", "runs", "training", "reporting", "sweep", "cli")
FACADE = {"bench/__init__.py"}  # the public API, which re-exports from every layer
PLUGIN_API = re.compile(r"^bench(\.io(\.\w+)?|\.labels\.encoding)?$")


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _is_module(name: str) -> bool:
    path = REPO.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(path: Path) -> list[tuple[str, bool]]:
    """(imported bench module, at module level at run time) for every import in ``path``."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((alias.name, top) for alias in child.names if alias.name.split(".")[0] == "bench")
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                if child.module.split(".")[0] == "bench":  # ``from bench.x import submodule`` names it
                    found.extend((f"{child.module}.{alias.name}" if _is_module(f"{child.module}.{alias.name}")
                                  else child.module, top) for alias in child.names)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, False)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                visit(child, False)
            else:
                visit(child, top)

    visit(ast.parse(path.read_text(encoding="utf-8")), True)
    return found


def package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def engine_files() -> list[Path]:
    return sorted(p for p in ENGINE.rglob("*.py") if "shipped" not in p.relative_to(ENGINE).parts)


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_engine_package_has_a_layer():
    packages = {p.name for p in ENGINE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} - {"shipped"}
    assert packages == set(LAYERS)


@pytest.mark.parametrize("path", engine_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_imports_point_down_the_layers(path):
    relative = str(path.relative_to(REPO))
    if relative in FACADE:
        return
    own = "cli" if relative == "bench/__main__.py" else path.relative_to(ENGINE).parts[0]
    for module, _ in imports(path):
        target = package_of(module)
        assert target is not None, f"{relative} imports the facade 'bench'; engine modules import from packages"
        if target == "shipped":
            continue
        assert LAYERS.index(target) <= LAYERS.index(own), (
            f"{relative} ({own}) imports {module} ({target}), a higher layer")


def test_module_level_imports_have_no_cycle():
    graph = {module_name(p): {m for m, top in imports(p) if top} for p in engine_files()}
    known = set(graph)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            target = target if target in known else target.rpartition(".")[0]
            if target not in known or target == node:
                continue
            if state.get(target) == 1:
                cycle = stack[stack.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


@pytest.mark.parametrize("path", sorted((REPO / "methods").glob("*.py")) + sorted((REPO / "datasets").glob("*.py")),
                         ids=lambda p: str(p.relative_to(REPO)))
def test_plugins_use_only_the_public_api(path):
    for module, _ in imports(path):
        assert PLUGIN_API.match(module), (f"{path.relative_to(REPO)} imports {module}: "
                                          "plugins use bench, bench.io, bench.labels.encoding")


LOOKUP = re.compile(r"""\b(?:METHODS|DATASETS)\.get\(\s*["']|\bget_(?:method|dataset)\(\s*["']""")


@pytest.mark.parametrize("path", engine_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_the_engine_names_no_concrete_plugin(path):
    code = [node for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Call) and LOOKUP.search(ast.unparse(node))]
    assert not code, f"{path.relative_to(REPO)} looks up a plugin by a literal name: {ast.unparse(code[0])}"
