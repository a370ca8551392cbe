"""One error model: every error bench reports to a user is a ``BenchError``.

A ``BenchError`` prints as one line and carries the command line's exit code:

* ``InputError`` (exit 2): a usage or input error found before anything runs -- an unknown or
  ill-typed option, parameter, plugin, selector, file or field. It is also a ``ValueError``, so
  ``except ValueError`` around the Python API keeps working.
* ``RunError`` (exit 1): a run that started and then failed (training diverged, a checkpoint is
  unusable, a recorded attempt failed). It is also a ``RuntimeError``.

Anything else that escapes is an internal error: the CLI prints one line and "run with --debug for
the traceback", and exits 1. Ctrl-C exits 130.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, Iterator

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class BenchError(Exception):
    """Base of every error bench reports: one line, and the exit code of the command that hit it."""

    exit_code: ClassVar[int] = EXIT_USAGE

    def one_line(self) -> str:
        """The message with its whitespace runs (newlines included) collapsed to single spaces."""
        return " ".join(str(self).split()) or type(self).__name__


class InputError(BenchError, ValueError):
    """A usage or input error, found before a run starts (exit 2)."""

    exit_code = EXIT_USAGE


class RunError(BenchError, RuntimeError):
    """A run that started and failed (exit 1)."""

    exit_code = EXIT_FAILED


class RunNoteWarning(UserWarning):
    """A note about a finished run that a reader must see beside its result (e.g. a selective run
    that degenerated, a backbone that started from random weights): emitted once when the run is
    made, and kept as one line in the run record's ``extra["notes"]``."""


@contextmanager
def writing(path: str | Path | None) -> Iterator[None]:
    """Turn an ``OSError`` raised while writing the user's output ``path`` into an ``InputError``
    naming it (a missing, read-only or special folder is the user's input, not a bench bug)."""
    try:
        yield
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
