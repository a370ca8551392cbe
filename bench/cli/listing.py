"""Rich tables of what is installed: methods, datasets, protocols, and plugins that failed to import.

Methods and datasets come from the plugin index (``bench.plugins.index``), so listing them imports
no plugin (and no torch) while the plugin files are unchanged."""
from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from bench.core.params import Param

NOT_OFFERED = {  # published methods people look for that bench does not offer, and why
    "SE-LS": "CSL Table 1's SE-LS: no public source gives its formula",
}


def format_params(parameters: dict[str, Param], required: tuple[str, ...] = ()) -> str:
    """``name=default`` for each declared parameter (``name=<required>`` when it has no default)."""
    return ", ".join(f"{k}=<required>" if k in required else f"{k}={p.default!r}" for k, p in parameters.items())


def entry_params(entry: dict[str, Any], by_name: dict[str, dict[str, Any]]) -> str:
    """An index entry's parameters as ``name=default``; for a preset (an entry with a registered
    ``base``) only what differs from its base: ``preset of p-asl: gamma_neg=4.0``."""
    params = {k: p["default"] for k, p in entry["parameters"].items()}
    base = by_name.get(entry.get("base") or "")
    if base is None:
        return ", ".join(f"{k}={v}" for k, v in params.items())
    inherited = {k: p["default"] for k, p in base["parameters"].items()}
    changed = [f"{k}={v}" for k, v in params.items() if inherited.get(k) != v]
    dropped = [f"without {k}" for k in inherited if k not in params]
    return f"preset of {base['name']}: " + (", ".join(changed + dropped) or "same defaults")


def _plugin_table(title: str, entries: list[dict[str, Any]], modality: bool = False) -> Table:
    table = Table(title=title, show_lines=False)
    for column in ("name", "version", *(["modality"] if modality else []), "parameters (defaults)", "description"):
        table.add_column(column, overflow="fold")
    by_name = {entry["name"]: entry for entry in entries}
    for entry in entries:
        cells: list[Any] = [entry["name"], entry["version"], *([entry["modality"]] if modality else []),
                            entry_params(entry, by_name), entry["description"]]
        table.add_row(*(escape(str(cell)) for cell in cells))
    return table


def plugins_table(folder: str, index: dict[str, Any]) -> Table:
    """The table of ``folder``'s index ("methods" or "datasets"; datasets with their modality);
    the methods table's caption names the published methods not offered (``NOT_OFFERED``)."""
    table = _plugin_table(folder, index["entries"], modality=folder == "datasets")
    if folder == "methods":
        table.caption = escape("not offered: " + "; ".join(f"{name} ({why})" for name, why in NOT_OFFERED.items()))
    return table


def protocols_table() -> Table:
    from bench.labels.protocols import PROTOCOLS  # numpy and scipy: only for this listing

    table = Table(title=escape("protocols (dataset+protocol[...])"))
    for column in ("name", "parameters (defaults)", "description"):
        table.add_column(column, overflow="fold")
    for name, spec in PROTOCOLS.items():
        table.add_row(escape(name), escape(format_params(spec.parameters, spec.required)), escape(spec.description))
    return table


def failed_lines(folder: str, index: dict[str, Any]) -> list[str]:
    """One line per plugin file of ``folder`` that failed to import: ``file:line: Type: message``."""
    kind = folder.removesuffix("s")
    return [f"{kind} plugin failed to import: {error}" for _, error in sorted(index["failed"].items())]
