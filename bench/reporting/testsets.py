"""Test labels for the paired bootstrap, loaded through the dataset named in a run record.

The test split does not depend on the protocol (protocols only hide training labels), so test sets
are keyed and cached by the dataset part of the selector (``coco[root=/x]`` of
``coco[root=/x]+fpc[n_s=1000]``). A dataset that cannot be loaded here (plugin missing, data not on
this machine) yields None and the report falls back to the paired test across seeds, saying why.
"""
from __future__ import annotations

from typing import Any

from bench.plugins.selectors import parse_dataset_selector
from bench.reporting.bootstrap import LabelledTestSet
from bench.runs.resolve import resolve_dataset


class DatasetTestSets:
    """Callable ``record -> (key, LabelledTestSet) | None`` loading each dataset's test split once."""

    def __init__(self) -> None:
        self._cache: dict[str, LabelledTestSet | None] = {}
        self.errors: dict[str, str] = {}

    @staticmethod
    def key(record: Any) -> str:
        """The dataset part of the run's selector (test labels do not depend on the protocol)."""
        return str(parse_dataset_selector(record.dataset).dataset)

    def reason(self, record: Any) -> str | None:
        """Why the run's test labels could not be loaded (None if they were, or were not tried)."""
        return self.errors.get(self.key(record))

    def __call__(self, record: Any) -> tuple[str, LabelledTestSet] | None:
        key = self.key(record)
        if key not in self._cache:
            self._cache[key] = self._load(key)
        test = self._cache[key]
        return None if test is None else (key, test)

    def _load(self, key: str) -> LabelledTestSet | None:
        try:
            data = resolve_dataset(key).plugin.load()
        except Exception as exc:  # any loading problem means "no bootstrap", reported, never a crash
            self.errors[key] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            return None
        groups = {name: list(members) for name, members in data.class_groups.items()}
        return LabelledTestSet(data.test.labels, list(data.class_names), groups)
