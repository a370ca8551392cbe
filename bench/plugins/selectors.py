"""Selectors: the human-readable labels of runs.

* method:  ``name`` or ``name[key=value,key=value]``, e.g. ``p-asl[partial_loss_mode=selective,gamma_neg=3]``
* dataset: ``dataset[key=value,...]`` optionally followed by ``+protocol[key=value,...]``, e.g.
  ``scene+rpa[p=0.5]``, ``coco[root=/data/coco]+fpc[n_s=1000]``; ``lvis`` alone means the
  dataset's native partial labels.

Values stay strings here; the plugin's declared parameters type them. The grammar:

* a name matches ``[A-Za-z0-9][A-Za-z0-9_.-]*``, a key ``[A-Za-z_][A-Za-z0-9_.-]*``;
* a value is either bare text (surrounding whitespace dropped; no quote characters; brackets only
  in balanced pairs; backslashes are plain characters) or the whole value quoted with ``'`` or
  ``"``, which may then hold anything: ``,``, ``]``, ``+``, ``=``, surrounding spaces, the other
  quote character. Inside quotes ``\\\\`` is one backslash and ``\\'`` / ``\\"`` a quote; any other
  backslash is a plain character (``'C:\\data'`` is ``C:\\data``). A quoted value is returned as a
  ``bench.core.params.Literal`` (a ``str``): a quoted ``'none'`` is the text "none", never None.

``format_selector`` writes the canonical text: a value is quoted (with ``'``) only when it must be,
so ``parse_selector(format_selector(name, params))`` gives back every value's text (``str(value)``:
ints, floats such as ``1e-300`` or ``-0.0``, bools and None read back as the same typed value).
Anything the parser cannot read is a one-line ``SelectorError``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from bench.core.errors import InputError
from bench.core.params import NONE_WORDS, Literal, shown

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_QUOTES = "'\""
_MUST_QUOTE = set(",[]+=" + _QUOTES)


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
    """Split on ``sep`` outside brackets and quotes (a backslash inside quotes escapes the next
    character); ``SelectorError`` for an unclosed quote or unbalanced brackets."""
    parts, depth, quote, escaped, cur = [], 0, "", False, []
    for ch in text:
        cur.append(ch)
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
            continue
        if ch in _QUOTES:
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                break
        elif ch == sep and depth == 0:
            cur.pop()
            parts.append("".join(cur))
            cur = []
    if quote or depth:
        raise SelectorError(f"unbalanced {'quote' if quote else 'brackets'} in '{shown(text)}'")
    parts.append("".join(cur))
    return parts


def _unescape(body: str) -> str:
    out, chars = [], iter(body)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append(nxt if nxt in "\\" + _QUOTES else ch + nxt)
        else:
            out.append(ch)
    return "".join(out)


def _value(raw: str, text: str, key: str) -> str:
    """The value of ``key=raw``: bare text stripped, or a whole quoted value unescaped (``Literal``)."""
    value = raw.strip()
    if not value or value[0] not in _QUOTES:
        if any(ch in _QUOTES for ch in value):
            raise SelectorError(f"selector '{shown(text)}': parameter '{key}': a quote inside an unquoted value "
                                "(quote the whole value, writing a quote inside as \\' or \\\")")
        return value
    quote, escaped, end = value[0], False, 0
    for index in range(1, len(value)):
        if escaped:
            escaped = False
        elif value[index] == "\\":
            escaped = True
        elif value[index] == quote:
            end = index
            break
    if end == 0:
        raise SelectorError(f"selector '{shown(text)}': parameter '{key}': unbalanced quote")
    if end != len(value) - 1:
        raise SelectorError(f"selector '{shown(text)}': parameter '{key}': text after the closing quote "
                            "(quote the whole value)")
    return Literal(_unescape(value[1:end]))


def parse_selector(text: str) -> Selector:
    """Parse ``name`` or ``name[key=value,...]``."""
    if not isinstance(text, str):
        raise SelectorError(f"a selector is text, got {type(text).__name__} {shown(text, repr)}")
    text = text.strip()
    if "[" in text:
        if not text.endswith("]"):
            raise SelectorError(f"selector '{shown(text)}': expected it to end with ']'")
        name, body = text[: text.index("[")], text[text.index("[") + 1 : -1]
    else:
        name, body = text, ""
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise SelectorError(f"selector '{shown(text)}': '{shown(name)}' is not a valid name")
    params: dict[str, str] = {}
    for item in _split_top(body, ","):
        if not item.strip():
            continue
        if "=" not in item:
            raise SelectorError(f"selector '{shown(text)}': '{shown(item.strip())}' is not key=value")
        key, value = item.split("=", 1)
        key = key.strip()
        if not _KEY.fullmatch(key):
            raise SelectorError(f"selector '{shown(text)}': '{shown(key)}' is not a valid parameter name")
        if key in params:
            raise SelectorError(f"selector '{shown(text)}': parameter '{key}' given twice")
        params[key] = _value(value, text, key)
    return Selector(name, params)


def parse_dataset_selector(text: str) -> DatasetSelector:
    """Parse ``dataset[...]`` or ``dataset[...]+protocol[...]``."""
    if not isinstance(text, str):
        raise SelectorError(f"a dataset selector is text, got {type(text).__name__} {shown(text, repr)}")
    parts = _split_top(text.strip(), "+")
    if len(parts) > 2:
        raise SelectorError(f"dataset selector '{shown(text)}': at most one '+protocol' part")
    dataset = parse_selector(parts[0])
    protocol = parse_selector(parts[1]) if len(parts) == 2 else None
    return DatasetSelector(dataset, protocol)


def _format_value(value: object) -> str:
    try:
        text = str(value)
    except ValueError as exc:  # e.g. an int too long to write in decimal
        raise SelectorError(f"cannot write the value of type {type(value).__name__} in a selector: {exc}") from None
    none_word = isinstance(value, str) and text.strip().lower() in NONE_WORDS
    if none_word and not isinstance(value, Literal):
        return text.strip()  # an unquoted none word means None: written bare, it still does
    if not text or text != text.strip() or none_word or any(ch in _MUST_QUOTE for ch in text):
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return text


def format_selector(name: str, params: dict) -> str:
    """Canonical text of a selector; keys in the order given (see the module docstring)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SelectorError(f"'{shown(str(name))}' is not a valid selector name")
    for key in params:
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise SelectorError(f"selector '{name}': '{shown(str(key))}' is not a valid parameter name")
    if not params:
        return name
    return f"{name}[" + ",".join(f"{k}={_format_value(v)}" for k, v in params.items()) + "]"
