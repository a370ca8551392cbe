"""Integrity checks of a loaded dataset against the release it claims to be.

* ``class_list_sha256(names)`` = sha256 of the UTF-8 bytes of ``"\\n".join(names)`` (hex): the
  fingerprint of a class list in its column order.
* ``check_class_list`` compares count and fingerprint with a known release (or a user-supplied
  fingerprint); ``check_split_sizes`` compares row counts with the official split sizes.
* ``VERIFY_LEVELS``: ``full`` (class list and split sizes), ``classes`` (class list only, for
  subsets of a release), ``off``.

Every failure is a ``DataError`` that says what was expected, what was found, and how to skip the
check (``verify=classes`` / ``verify=off``) when a deliberate subset or variant is loaded.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from bench.io.errors import DataError

VERIFY_LEVELS = ("full", "classes", "off")


def class_list_sha256(names: Sequence[str]) -> str:
    """sha256 (hex) of ``"\\n".join(names)`` encoded as UTF-8."""
    return hashlib.sha256("\n".join(names).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class KnownRelease:
    """What a dataset release looks like: class count, class-list fingerprint (optional) and
    official split sizes (rows kept by the loader; empty when not known)."""

    name: str
    num_classes: int
    class_sha256: str | None = None
    split_sizes: Mapping[str, int] = field(default_factory=dict)


def check_class_list(names: Sequence[str], release: KnownRelease, source: str,
                     expected_sha256: str | None = None) -> str:
    """Check ``names`` against ``release`` (count, fingerprint) and ``expected_sha256`` when given.

    Returns the list's fingerprint. Raises ``DataError`` naming ``source`` on a mismatch.
    """
    digest = class_list_sha256(names)
    if len(names) != release.num_classes:
        raise DataError(
            f"{len(names)} classes, but {release.name} has {release.num_classes} "
            "(wrong version or an edited class list; verify=off skips this check)", source)
    if len(set(names)) != len(names):
        dup = next(n for n, k in Counter(names).items() if k > 1)
        raise DataError(f"class {dup!r} appears more than once in the class list", source)
    for wanted, label in ((release.class_sha256, release.name), (expected_sha256, "the given classes_sha256")):
        if wanted is not None and digest != wanted:
            raise DataError(
                f"class list differs from {label} (sha256 {digest[:12]}..., expected {wanted[:12]}...): "
                "different names or order; verify=off skips this check", source)
    return digest


def check_split_sizes(sizes: Mapping[str, int], release: KnownRelease, source: str) -> None:
    """Check each split's row count against the release's official size (where known)."""
    for split, expected in release.split_sizes.items():
        got = sizes.get(split)
        if got is not None and got != expected:
            raise DataError(
                f"{split} split has {got:,} images, {release.name} has {expected:,} (incomplete or "
                "modified copy; verify=classes checks only the class list)", source)


def verify_release(names: Sequence[str], sizes: Mapping[str, int], release: KnownRelease,
                   source: str, level: str, expected_sha256: str | None = None) -> str:
    """Run the checks ``level`` asks for and return the class-list fingerprint. A user-supplied
    ``expected_sha256`` is checked at every level, ``off`` included."""
    if level not in VERIFY_LEVELS:
        raise DataError(f"unknown verify level '{level}' (use one of {', '.join(VERIFY_LEVELS)})", field="verify")
    if level == "off":
        return check_class_list(names, KnownRelease(release.name, len(names)), source, expected_sha256)
    digest = check_class_list(names, release, source, expected_sha256)
    if level == "full":
        check_split_sizes(sizes, release, source)
    return digest
