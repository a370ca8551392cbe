"""The official-arguments hook: a method plugin that reproduces an official script may translate
that script's command-line arguments into a bench run (``bench run --from-official-args "..."``).

A method class declares ``official_script`` (e.g. ``"CSL train.py"``) and implements the classmethod
``from_official_args(argv) -> OfficialRun``; the engine finds it by that declaration.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from bench.core.errors import InputError


class OfficialArgsError(InputError):
    """An official argument the translation cannot represent."""


@dataclass(frozen=True)
class OfficialRun:
    """An official command translated: the method selector, the protocol selector (None: left to
    the dataset selector), the class-prior file (None: none used) and one note per translated
    quirk or argument left out."""

    method: str
    protocol: str | None = None
    prior_path: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
