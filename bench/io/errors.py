"""``DataError``: bad input data, reported as one line naming the file, line and field."""
from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from bench.core.errors import InputError


class DataError(InputError):
    """Malformed, incomplete or wrong-version dataset input.

    ``str(err)`` is ``"<file>:<line>: field '<field>': <message>"`` with the parts that are known,
    always one line: a line break that reaches the message or field from the input is escaped.
    """

    def __init__(self, message: str, file: str | Path | None = None, line: int | None = None,
                 field: str | None = None):
        self.message = _one_line(message)
        self.file = _one_line(str(file)) if file is not None else None
        self.line = line
        self.field = _one_line(field) if field is not None else None
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file + (f":{self.line}" if self.line is not None else "") + ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        field = f"field '{self.field}': " if self.field is not None else ""
        return f"{where}{field}{self.message}"


_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


def _one_line(text: str) -> str:
    """``text`` with every character that would break the line escaped (``\\n``, ``\\x85``, ...)."""
    return text.translate(_LINE_BREAKS)


@contextmanager
def json_errors(path: str | Path) -> Iterator[None]:
    """Turn the errors a JSON annotation loader raises into ``DataError`` naming ``path``.

    ``json.JSONDecodeError`` keeps its line; a ``KeyError`` names the missing field; a missing
    file is reported as such.
    """
    try:
        yield
    except json.JSONDecodeError as err:
        raise DataError(f"malformed JSON: {err.msg} (column {err.colno})", path, err.lineno) from None
    except KeyError as err:
        raise DataError("missing in an entry of the annotation JSON", path, field=str(err.args[0])) from None
    except FileNotFoundError:
        raise DataError("file not found", path) from None
    except (TypeError, AttributeError) as err:
        raise DataError(f"unexpected JSON layout ({err})", path) from None


def require_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path, or ``DataError`` saying which input is missing."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} not found", path)
    return path


def require_dir(path: str | Path | None, what: str, owner: str) -> Path:
    """``path`` as an existing folder, or ``DataError`` naming the parameter's role."""
    if path is None or str(path) == "":
        raise DataError(f"{what} is required (pass root=/path/to/the/data)", owner, field="root")
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DataError(f"{what} not found (not a folder; {owner}, parameter root)", path)
    return path
