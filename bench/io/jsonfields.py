"""Annotation JSON read and type-checked: every value a loader uses has the JSON type it needs.

``read_json(path, what)`` parses a file (UTF-8, BOM accepted) and reports malformed JSON at its
line. ``entries(doc, key, path)`` is the list of objects under a top-level key (the top level
must be an object). ``get_int`` / ``get_str`` / ``get_int_list`` read one field of one entry:
a bool is not an integer, a string is not a number, a float is not an id. Every failure is a
``DataError`` naming the file, the field and the entry (``images[3]``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.io.errors import DataError
from bench.io.text import read_text


def json_type(value: Any) -> str:
    """How a JSON value is described in an error: ``true``, ``null``, ``a string '...'``, ..."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string {shown!r}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def read_json(path: str | Path, what: str) -> Any:
    """The parsed JSON of ``path``; ``DataError`` (file, line) when it is not UTF-8 or not JSON."""
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"malformed JSON: {err.msg} (column {err.colno})", path, err.lineno) from None
    except RecursionError:
        raise DataError("malformed JSON: nested too deeply", path) from None


def top_object(doc: Any, path: str | Path) -> dict:
    """``doc`` when it is a JSON object, else a ``DataError``."""
    if not isinstance(doc, dict):
        raise DataError(f"the top level is {json_type(doc)}, expected an object with images, annotations and "
                        "categories", path)
    return doc


def entries(doc: dict, key: str, path: str | Path) -> list[dict]:
    """The list of objects ``doc[key]``: ``DataError`` when missing, not a list, or holding a non-object."""
    if key not in doc:
        raise DataError("missing at the top level of the annotation JSON", path, field=key)
    items = doc[key]
    if not isinstance(items, list):
        raise DataError(f"is {json_type(items)}, expected a list", path, field=key)
    bad = next((i for i, item in enumerate(items) if not isinstance(item, dict)), None)
    if bad is not None:
        raise DataError(f"{key}[{bad}] is {json_type(items[bad])}, expected an object", path, field=key)
    return items


def _get(entry: dict, key: str, path: str | Path, where: str) -> Any:
    if key not in entry:
        raise DataError(f"missing in {where}", path, field=key)
    return entry[key]


def get_int(entry: dict, key: str, path: str | Path, where: str) -> int:
    """``entry[key]`` as an int (not a bool, float or string)."""
    value = _get(entry, key, path, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"{where}: expected an integer, got {json_type(value)}", path, field=key)
    return value


def get_str(entry: dict, key: str, path: str | Path, where: str) -> str:
    """``entry[key]`` as a non-empty string."""
    value = _get(entry, key, path, where)
    if not isinstance(value, str) or not value:
        got = "an empty string" if value == "" else json_type(value)
        raise DataError(f"{where}: expected a non-empty string, got {got}", path, field=key)
    return value


def get_int_list(entry: dict, key: str, path: str | Path, where: str) -> list[int]:
    """``entry[key]`` as a list of ints."""
    value = _get(entry, key, path, where)
    if not isinstance(value, list):
        raise DataError(f"{where}: expected a list of integers, got {json_type(value)}", path, field=key)
    bad = next((i for i, v in enumerate(value) if isinstance(v, bool) or not isinstance(v, int)), None)
    if bad is not None:
        raise DataError(f"{where}: expected a list of integers, holds {json_type(value[bad])}", path, field=key)
    return value


def index_by_id(items: list[dict], key: str, path: str | Path) -> dict[int, dict]:
    """``{entry id: entry}`` of one list of the JSON; ``DataError`` on an ill-typed or repeated id."""
    index: dict[int, dict] = {}
    for i, item in enumerate(items):
        item_id = get_int(item, "id", path, f"{key}[{i}]")
        if item_id in index:
            raise DataError(f"{key}[{i}]: id {item_id} already used by an earlier entry (ids must be unique)",
                            path, field="id")
        index[item_id] = item
    return index


def annotation_pairs(anns: list[dict], images: dict[int, dict], path: str | Path) -> list[tuple[int, int]]:
    """``(image_id, category_id)`` of every annotation, both integers, each image one of
    ``images``; ``DataError`` naming the field otherwise (categories are checked by the caller)."""
    pairs = []
    for i, ann in enumerate(anns):
        image_id = get_int(ann, "image_id", path, f"annotations[{i}]")
        category_id = get_int(ann, "category_id", path, f"annotations[{i}]")
        if image_id not in images:
            raise DataError(f"annotation refers to image {image_id}, absent from 'images'", path, field="image_id")
        pairs.append((image_id, category_id))
    return pairs
