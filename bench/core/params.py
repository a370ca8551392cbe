"""Declared, typed plugin parameters (benchopt-style) and their resolution.

A plugin class declares ``parameters = {"gamma_neg": Param(1.0, min=0.0, help="...")}``. A user gives
values as Python objects (the Python API) or strings (selectors such as ``p-asl[gamma_neg=4]``);
``resolve_params`` returns every declared parameter with its typed value, defaults filled in, or
raises a one-line ``ParamError`` naming the owner and the parameter.

Strings are typed by the declaration: ``none`` / ``null`` (any case) are None where a parameter
accepts None, ``true`` / ``yes`` / ``on`` / ``1`` and ``false`` / ``no`` / ``off`` / ``0`` are
booleans, ints are integer literals, floats anything ``float()`` reads. A ``Literal`` (a selector
value that was quoted) is text as written: a ``str`` parameter given ``Literal("none")`` holds the
text "none".
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from typing import Any, Callable, ClassVar, Mapping

from bench.core.errors import InputError

NONE_WORDS = _NONE_WORDS = frozenset({"none", "null"})
_TRUE_WORDS = {"true", "yes", "1", "on"}
_FALSE_WORDS = {"false", "no", "0", "off"}
_SHOWN_CHARS = 200


class ParamError(InputError):
    """An unknown parameter name, an ill-typed value or a value outside the declared choices or bounds."""


class Literal(str):
    """Text given quoted (``key='none'`` in a selector): taken as written, never a None word."""

    __slots__ = ()


def shown(value: Any, render: Callable[[Any], str] = str) -> str:
    """``render(value)`` for a one-line message: a multi-line ``repr`` (a numpy array's) joined on
    single spaces, characters that are not printable (newlines, other line breaks, controls)
    escaped, and cut to 200 characters."""
    try:
        text = render(value)
    except Exception:  # noqa: BLE001 - a value whose str/repr fails is still named
        text = f"<{type(value).__name__}>"
    if render is not str and len(text.splitlines()) > 1:
        text = " ".join(text.split())
    text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


@dataclass(frozen=True)
class Param:
    """One declared parameter: its default, type (inferred from the default when omitted),
    help text, optional allowed choices, whether ``None`` is a legal value, and optional bounds
    for numbers: ``min`` / ``max`` (None: unbounded), closed unless ``min_open`` / ``max_open``.
    Bounds are checked whenever a value is resolved (selectors, keywords, defaults); a float
    parameter also refuses NaN and infinities unless a bound is itself infinite."""

    default: Any
    type: type | None = None
    help: str = ""
    choices: tuple | None = None
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    min_open: bool = False
    max_open: bool = False

    @property
    def bounds(self) -> str:
        """The declared range as interval text, e.g. ``[0, 1)``, or '' when unbounded."""
        if self.min is None and self.max is None:
            return ""
        low = "(-inf" if self.min is None else ("(" if self.min_open else "[") + f"{self.min:g}"
        high = "inf)" if self.max is None else f"{self.max:g}" + (")" if self.max_open else "]")
        return f"{low}, {high}"

    def _check_bounds(self, value: Any, name: str, owner: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return
        finite = value == value and value not in (float("inf"), float("-inf"))
        below = self.min is not None and (value < self.min or (self.min_open and value == self.min))
        above = self.max is not None and (value > self.max or (self.max_open and value == self.max))
        infinite_allowed = (self.min is not None and self.min == float("-inf")) or (
            self.max is not None and self.max == float("inf"))
        if below or above or (isinstance(value, float) and not finite and not infinite_allowed):
            where = f" in {self.bounds}" if self.bounds else " finite"
            raise ParamError(f"{owner}: parameter '{name}' must be{where}; got {shown(value, repr)}")

    @property
    def value_type(self) -> type:
        if self.type is not None:
            return self.type
        if self.default is None:
            return str
        return type(self.default)

    @property
    def accepts_none(self) -> bool:
        return self.nullable or self.default is None

    def _is_none(self, value: Any) -> bool:
        if value is None:
            return True
        if not isinstance(value, str) or (isinstance(value, Literal) and self.value_type is str):
            return False
        return value.strip().lower() in _NONE_WORDS

    def coerce(self, value: Any, name: str, owner: str) -> Any:
        """Return ``value`` converted to this parameter's type, or raise ``ParamError``."""
        kind = self.value_type
        if self._is_none(value):
            if self.accepts_none:
                return None
            raise ParamError(f"{owner}: parameter '{name}' may not be None")
        try:
            out = _coerce(value, kind)
        except (TypeError, ValueError, ArithmeticError):
            raise ParamError(
                f"{owner}: parameter '{name}' expects {kind.__name__}, got {shown(value, repr)}"
            ) from None
        if self.choices is not None and out not in self.choices:
            raise ParamError(
                f"{owner}: parameter '{name}' must be one of {', '.join(map(str, self.choices))}; "
                f"got {shown(out, repr)}"
            )
        self._check_bounds(out, name, owner)
        return out


def _coerce(value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS | _FALSE_WORDS:
            return value.strip().lower() in _TRUE_WORDS
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ValueError(value)
    if kind is int:
        if isinstance(value, bool):
            raise ValueError(value)
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(value)
            return int(value)
        return int(str(value).strip()) if isinstance(value, str) else int(value)
    if kind is float:
        if isinstance(value, bool):
            raise ValueError(value)
        return float(value)
    if kind is str:
        return value if isinstance(value, Literal) else str(value)
    return kind(value)


def with_defaults(parameters: Mapping[str, Param], **defaults: Any) -> dict[str, Param]:
    """A preset's declared parameters: ``parameters`` with the named defaults changed (types,
    bounds and help kept). ``KeyError`` for a name ``parameters`` does not declare."""
    out = dict(parameters)
    for name, value in defaults.items():
        out[name] = replace(out[name], default=value)
    return out


def suggest(name: str, candidates: list[str] | tuple[str, ...]) -> str:
    """' (did you mean X?)' for the closest candidate, or '' when none is close."""
    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


def resolve_params(declared: Mapping[str, Param], given: Mapping[str, Any], owner: str,
                   renamed: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every declared parameter with its typed value: ``given`` overrides the defaults.

    Raises ``ParamError`` for an unknown name (with a suggestion, or the new name of a parameter
    listed in ``renamed``: old name -> new name), an ill-typed value or one outside the declared
    choices or bounds.
    """
    for key in given:
        if key not in declared and renamed and key in renamed:
            raise ParamError(f"{owner}: parameter '{key}' is now called '{renamed[key]}'")
        if key not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise ParamError(
                f"{owner}: unknown parameter '{shown(key)}'{suggest(key, tuple(declared))}; known: {known}"
            )
    resolved: dict[str, Any] = {}
    for key, param in declared.items():
        raw = given[key] if key in given else param.default
        resolved[key] = param.coerce(raw, key, owner)
    return resolved


class Parameterised:
    """Base of plugin classes: ``parameters`` declared on the class, resolved on construction
    (``self.params``), and each readable as an attribute (``self.gamma_neg``)."""

    name: ClassVar[str] = "plugin"
    plugin_type: ClassVar[str] = "plugin"
    description: ClassVar[str] = ""
    renamed_parameters: ClassVar[dict[str, str]] = {}
    parameters: ClassVar[dict[str, Param]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "description" not in cls.__dict__ and cls.__doc__:  # a class's own docstring, never a base's
            cls.description = cls.__doc__.strip().splitlines()[0]

    def __init__(self, **params: Any):
        self.params: dict[str, Any] = resolve_params(self.parameters, params, f"{self.plugin_type} '{self.name}'",
                                                     self.renamed_parameters)

    def __getattr__(self, key: str) -> Any:
        params = self.__dict__.get("params", {})
        if key in params:
            return params[key]
        raise AttributeError(f"{type(self).__name__} has no attribute '{key}'")
