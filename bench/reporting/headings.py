"""Readable headings: what a table's setting is, in a few words, and the full setting beside it.

A heading names the dataset, the protocol and the recipe in short (``scene · rpa[p=0.5] · linear,
30 epochs``); a table whose dataset selector has other tables too adds the keys its setting differs
in. The whole setting (every recipe field, the evaluator, the split) goes in ``setting_lines``: a
collapsed ``<details>`` block in HTML, a footnote in Markdown.
"""
from __future__ import annotations

import json
from typing import Any, Sequence

from bench.plugins.selectors import format_selector, parse_dataset_selector

SEP = " · "
HIDDEN_PARAMS = ("root",)  # a data root differs between machines and says nothing about the setting
RECIPE_WORDS = ("mode", "recipe.backbone", "recipe.image_size", "recipe.epochs")


def _value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def dataset_part(selector: str) -> str:
    """The dataset of a selector with its parameters, data roots left out (``coco-mini``)."""
    dataset = parse_dataset_selector(selector).dataset
    return format_selector(dataset.name, {k: v for k, v in dataset.params.items() if k not in HIDDEN_PARAMS})


def protocol_part(selector: str) -> str:
    """The protocol of a selector (``rpa[p=0.5]``), or ``full labels`` for a dataset's own labels."""
    protocol = parse_dataset_selector(selector).protocol
    return str(protocol) if protocol is not None else "full labels"


def family_of(dataset: str) -> str:
    """The family of a dataset plugin, the part of its name before the first ``-`` (``coco-mini`` ->
    ``coco``, ``openimages-v3`` -> ``openimages``): the tables of one family share a main leaderboard."""
    return dataset.split("-")[0]


def recipe_short(setting: dict[str, Any]) -> str:
    """The recipe in a few words: mode, backbone, input size and epochs (``linear, 30 epochs``; under
    the plateau schedule, whose epochs are a cap, ``linear, to convergence (<= 200 epochs)``)."""
    words = []
    for key in RECIPE_WORDS:
        value = setting.get(key)
        if value is None:
            continue
        if key == "recipe.epochs" and setting.get("recipe.schedule") == "plateau":  # epochs only cap it
            words.append(f"to convergence (<= {value} epochs)")
        elif key == "recipe.epochs":
            words.append(f"{value} epoch{'s' if value != 1 else ''}")
        elif key == "recipe.image_size":
            words.append(f"{value}px")
        else:
            words.append(str(value))
    return ", ".join(words)


def distinct_text(distinct: dict[str, Any]) -> str:
    """``key=value`` of the setting keys a table differs in from its dataset's other tables (the keys
    already in the short recipe and plugin identities left out)."""
    keep = {k: v for k, v in distinct.items()
            if k not in RECIPE_WORDS and not k.endswith(("source_hash", "version"))}
    return ", ".join(f"{k.removeprefix('recipe.')}={_value(v)}" for k, v in keep.items())


def heading(selector: str, setting: dict[str, Any], distinct: dict[str, Any]) -> str:
    """``dataset · protocol · recipe`` (and the keys it differs in from its dataset's other tables)."""
    parts = [dataset_part(selector), protocol_part(selector)]
    recipe = recipe_short(setting)
    differs = distinct_text(distinct)
    if recipe or differs:
        parts.append(", ".join(p for p in (recipe, differs) if p))
    return SEP.join(parts)


def setting_lines(setting: dict[str, Any]) -> list[str]:
    """``key = value`` of every setting key but plugin identities (what the heading shortens)."""
    return [f"{k} = {_value(v)}" for k, v in setting.items()
            if not k.endswith(("source_hash", "version")) and k.split(".")[0] not in ("dataset", "protocol")]


def numbered(texts: Sequence[str], suffix: str = " ({n})") -> list[str]:
    """``texts`` with each repeat of an earlier text given ``suffix`` (``n``: its count so far, from
    2), in order, so labels, headers and titles are unique."""
    seen: dict[str, int] = {}
    out = []
    for text in texts:
        seen[text] = seen.get(text, 0) + 1
        out.append(text if seen[text] == 1 else text + suffix.format(n=seen[text]))
    return out


def unique_titles(tables: list[Any]) -> None:
    """Give tables sharing a title a numbered suffix (`` (2)``), in order."""
    for table, title in zip(tables, numbered([table.title for table in tables])):
        table.title = title
