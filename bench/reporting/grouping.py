"""Which runs are averaged together, and which are compared.

A run's resolved configuration (``bench.runs.execute.resolve_config``) splits three ways:

* replicate keys -- ``seed`` and ``split.split_seed``: runs differing only there are the seeds of
  one row (mean ± std over them);
* row keys -- ``method``, ``artifacts``, ``select_on``: they tell rows of one table apart (a run
  selected on the test set is its own row, flagged);
* everything else (recipe, mode, evaluator, dataset/protocol plugin identity, validation fraction,
  bench version) is the *setting*: rows are ranked only against rows of the same dataset selector
  and setting, so runs with different backbones or recipes never share a ranked table.

Dataset and protocol parameters are left out of the setting: the dataset selector (the record's
``dataset``) already names them, and a data root differing between machines must not split a table.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

REPLICATE_KEYS = ("seed", "split.split_seed")
ROW_KEYS = ("method", "artifacts", "select_on")
SETTING_IGNORED = ("dataset.params", "protocol.params")


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as ``{"a.b.c": leaf}`` (lists and scalars are leaves)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key in sorted(value, key=str):
            out.update(flatten(value[key], f"{prefix}{key}."))
        return out
    return {prefix[:-1]: value} if prefix else {}


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r + ".") for r in roots)


def setting_of(record: Any) -> dict[str, Any]:
    """The flattened setting of a run (see the module docstring)."""
    flat = flatten(record.config or {})
    return {k: v for k, v in flat.items()
            if not _under(k, REPLICATE_KEYS + ROW_KEYS + SETTING_IGNORED)}


def row_identity(record: Any) -> dict[str, Any]:
    """The flattened row keys of a run."""
    flat = flatten(record.config or {})
    return {k: v for k, v in flat.items() if _under(k, ROW_KEYS)}


def seed_key(record: Any) -> tuple[int, int]:
    """The replicate of a run: (seed, split_seed)."""
    return int(record.seed), int(record.split_seed)


def selected_on_test(record: Any) -> bool:
    """Whether the run's model was selected on the test set (selection policy, config or flag)."""
    selection = record.selection or {}
    config = record.config or {}
    extra = record.extra or {}
    return selection.get("policy") == "test" or config.get("select_on") == "test" or bool(extra.get("selected_on_test"))


def _key(flat: dict[str, Any]) -> str:
    return json.dumps(flat, sort_keys=True, default=str)


@dataclass
class RunGroup:
    """The runs of one row: same dataset selector, setting and row keys; one run per seed."""

    label: str
    identity: dict[str, Any]
    records: list[Any]
    distinct: dict[str, Any] = field(default_factory=dict)

    @property
    def test_selected(self) -> bool:
        return any(selected_on_test(r) for r in self.records)


@dataclass
class SettingGroup:
    """The rows of one ranked table: a dataset selector under one setting."""

    dataset: str
    setting: dict[str, Any]
    rows: list[RunGroup]
    distinct: dict[str, Any] = field(default_factory=dict)


def _differing(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each flattened dict, its entries whose value is not the same in all of them (a key some
    dicts lack counts as differing; each dict lists only the keys it has)."""
    keys = sorted({k for item in items for k in item})
    varying = [k for k in keys if len({json.dumps(item.get(k, "\0absent"), default=str) for item in items}) > 1]
    return [{k: item[k] for k in varying if k in item} for item in items]


def group_runs(records: Iterable[Any]) -> list[SettingGroup]:
    """Group done runs into ranked tables and rows, deterministically ordered.

    Tables are ordered by dataset selector then setting; rows by label then identity; each row keeps
    the latest run per (seed, split_seed) (runs are expected in store order: created_at, id).
    """
    tables: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        setting = setting_of(record)
        table = tables.setdefault((record.dataset, _key(setting)), {"setting": setting, "rows": {}})
        identity = row_identity(record)
        row = table["rows"].setdefault((record.method, _key(identity)), {"identity": identity, "runs": {}})
        row["runs"][seed_key(record)] = record
    groups: list[SettingGroup] = []
    for (dataset, _), table in sorted(tables.items()):
        rows = [RunGroup(label, data["identity"], [data["runs"][k] for k in sorted(data["runs"])])
                for (label, _), data in sorted(table["rows"].items())]
        for label in {r.label for r in rows}:
            same = [r for r in rows if r.label == label]
            if len(same) > 1:
                for row, diff in zip(same, _differing([r.identity for r in same])):
                    row.distinct = diff
        groups.append(SettingGroup(dataset, table["setting"], rows))
    for dataset in {g.dataset for g in groups}:
        same = [g for g in groups if g.dataset == dataset]
        if len(same) > 1:
            for group, diff in zip(same, _differing([g.setting for g in same])):
                group.distinct = diff
    return groups
