"""Rich tables of what is installed: methods, datasets, protocols, and plugins that failed to import."""
from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from bench.core.params import Param
from bench.labels.protocols import PROTOCOLS
from bench.plugins.registry import DATASETS, METHODS, Registry


def format_params(parameters: dict[str, Param], required: tuple[str, ...] = ()) -> str:
    """``name=default`` for each declared parameter (``name=<required>`` when it has no default)."""
    return ", ".join(f"{k}=<required>" if k in required else f"{k}={p.default!r}" for k, p in parameters.items())


def _plugin_table(title: str, classes: dict[str, type], extra: str | None = None) -> Table:
    table = Table(title=title, show_lines=False)
    for column in ("name", "version", *([extra] if extra else []), "parameters (defaults)", "description"):
        table.add_column(column, overflow="fold")
    for name, cls in classes.items():
        cells: list[Any] = [name, cls.version]  # declared on the plugin base classes
        if extra:
            cells.append(getattr(cls, extra))
        cells += [format_params(cls.parameters), cls.description]
        table.add_row(*(escape(str(cell)) for cell in cells))
    return table


def methods_table() -> Table:
    return _plugin_table("methods", METHODS.classes())


def datasets_table() -> Table:
    return _plugin_table("datasets", DATASETS.classes(), extra="modality")


def protocols_table() -> Table:
    table = Table(title=escape("protocols (dataset+protocol[...])"))
    for column in ("name", "parameters (defaults)", "description"):
        table.add_column(column, overflow="fold")
    for name, spec in PROTOCOLS.items():
        table.add_row(escape(name), escape(format_params(spec.parameters, spec.required)), escape(spec.description))
    return table


def failed_lines(registry: Registry) -> list[str]:
    """One line per plugin of ``registry`` that failed to import: ``file:line: Type: message``."""
    registry.classes()  # discovery records the failures
    return [f"{registry.plugin_type} plugin failed to import: {error}" for _, error in sorted(registry.failed.items())]
