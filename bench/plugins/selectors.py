"""Selectors: the human-readable labels of runs.

* method:  ``name`` or ``name[key=value,key=value]``, e.g. ``p-asl[partial_loss_mode=selective,gamma_neg=3]``
* dataset: ``dataset[key=value,...]`` optionally followed by ``+protocol[key=value,...]``, e.g.
  ``scene+rpa[p=0.5]``, ``coco[root=/data/coco]+fpc[n_s=1000]``; ``lvis`` alone means the
  dataset's native partial labels.

Values stay strings here; the plugin's declared parameters type them. Values may be quoted with
``'`` or ``"`` to contain ``,``, ``]`` or ``+``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from bench.core.errors import InputError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class SelectorError(InputError):
    """A selector that does not parse."""


@dataclass(frozen=True)
class Selector:
    """A parsed ``name[key=value,...]``."""

    name: str
    params: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return format_selector(self.name, self.params)


@dataclass(frozen=True)
class DatasetSelector:
    """A parsed ``dataset[...]+protocol[...]``; ``protocol`` is None for native labels."""

    dataset: Selector
    protocol: Selector | None = None

    def __str__(self) -> str:
        return str(self.dataset) + (f"+{self.protocol}" if self.protocol else "")


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside brackets and quotes."""
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
            cur.append(ch)
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if quote or depth:
        raise SelectorError(f"unbalanced {'quote' if quote else 'brackets'} in '{text}'")
    parts.append("".join(cur))
    return parts


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def parse_selector(text: str) -> Selector:
    """Parse ``name`` or ``name[key=value,...]``."""
    text = text.strip()
    if "[" in text:
        if not text.endswith("]"):
            raise SelectorError(f"selector '{text}': expected it to end with ']'")
        name, body = text[: text.index("[")], text[text.index("[") + 1 : -1]
    else:
        name, body = text, ""
    name = name.strip()
    if not _NAME.match(name):
        raise SelectorError(f"selector '{text}': '{name}' is not a valid name")
    params: dict[str, str] = {}
    for item in _split_top(body, ","):
        if not item.strip():
            continue
        if "=" not in item:
            raise SelectorError(f"selector '{text}': '{item.strip()}' is not key=value")
        key, value = item.split("=", 1)
        key = key.strip()
        if key in params:
            raise SelectorError(f"selector '{text}': parameter '{key}' given twice")
        params[key] = _unquote(value)
    return Selector(name, params)


def parse_dataset_selector(text: str) -> DatasetSelector:
    """Parse ``dataset[...]`` or ``dataset[...]+protocol[...]``."""
    parts = _split_top(text.strip(), "+")
    if len(parts) > 2:
        raise SelectorError(f"dataset selector '{text}': at most one '+protocol' part")
    dataset = parse_selector(parts[0])
    protocol = parse_selector(parts[1]) if len(parts) == 2 else None
    return DatasetSelector(dataset, protocol)


def _format_value(value: object) -> str:
    text = str(value)
    return f"'{text}'" if any(ch in text for ch in ",[]+=") else text


def format_selector(name: str, params: dict) -> str:
    """Canonical text of a selector; keys in the order given."""
    if not params:
        return name
    return f"{name}[" + ",".join(f"{k}={_format_value(v)}" for k, v in params.items()) + "]"
