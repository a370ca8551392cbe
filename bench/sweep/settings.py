"""``bench sweep SPEC --set name=value``: one value for every cell, e.g. the user's data root.

``name`` is a recipe field (``--set epochs=1`` cuts a reproduction spec's epochs) or a parameter of
the spec's datasets (``--set root=/data/coco``), set in every dataset selector whose plugin declares
it. A name that is neither is a ``SpecError``; so is a dataset selector that already sets it.
"""
from __future__ import annotations

from bench.core.params import suggest
from bench.plugins.registry import DATASETS
from bench.plugins.selectors import Selector, parse_dataset_selector
from bench.runs.recipe import RecipeError
from bench.runs.recipe_files import FIELD_TYPES, coerce_field
from bench.sweep.spec import SpecError, SweepSpec


def _split(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise SpecError(f"command line, option --set: expected name=value, got '{item}'")
    return key.strip(), value.strip()


def apply_settings(spec: SweepSpec, items: list[str]) -> SweepSpec:
    """``spec`` with each ``--set`` item applied (see the module docstring); the spec is changed in place."""
    for item in items:
        key, value = _split(item)
        where = f"command line, option --set {key}"
        if key in FIELD_TYPES:
            try:
                spec.recipe[key] = [coerce_field(key, value, where)]
            except RecipeError as exc:
                raise SpecError(" ".join(str(exc).split())) from None
            continue
        changed, declared = [], set()
        for text in spec.datasets:
            parsed = parse_dataset_selector(text)
            parameters = DATASETS.get(parsed.dataset.name).parameters
            declared |= set(parameters)
            if key not in parameters:
                changed.append(text)
                continue
            if key in parsed.dataset.params:
                raise SpecError(f"{where}: dataset '{text}' already sets '{key}'")
            selector = Selector(parsed.dataset.name, {**parsed.dataset.params, key: value})
            changed.append(str(selector) + ("" if parsed.protocol is None else f"+{parsed.protocol}"))
        if changed == spec.datasets:
            known = sorted(declared | set(FIELD_TYPES))
            raise SpecError(f"{where}: '{key}' is neither a recipe field nor a parameter of the spec's datasets"
                            f"{suggest(key, tuple(known))}")
        spec.datasets = changed
    return spec
