"""Test labels for the paired bootstrap, loaded through the dataset named in a run record.

The test split does not depend on the protocol (protocols only hide training labels), so test sets
are keyed and cached by the dataset part of the selector (``coco[root=/x]`` of
``coco[root=/x]+fpc[n_s=1000]``). A dataset that cannot be loaded here (plugin missing, data not on
this machine) yields None and the report falls back to the paired test across seeds, saying why.

``describe`` answers without loading when it can: the test set's ``TestSetInfo`` (labels digest and
sizes, what the replicate cache keys on) is remembered in the store's artifacts (``report-test-labels``)
under the run's dataset identity -- the dataset part of its selector with the plugin's name, version,
source hash and parameters, the identity a run's configuration hash already trusts -- so a report
whose replicates are all cached never imports the dataset plugins.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from bench.core.hashing import json_sha256
from bench.plugins.selectors import parse_dataset_selector
from bench.reporting.bootstrap import LabelledTestSet
from bench.reporting.replicates import TestSetInfo
from bench.store.errors import StoreError

ARTIFACT = "report-test-labels"


class DatasetTestSets:
    """Callable ``record -> (key, LabelledTestSet) | None`` loading each dataset's test split once;
    ``store``: where ``describe`` remembers each test set's info (None: nowhere)."""

    def __init__(self, store: Any = None) -> None:
        self.store = store
        self._cache: dict[str, LabelledTestSet | None] = {}
        self._infos: dict[str, TestSetInfo | None] = {}
        self.errors: dict[str, str] = {}

    def describe(self, record: Any) -> tuple[str, TestSetInfo, Callable[[], LabelledTestSet | None]] | None:
        """(key, info, load) of the run's test set, None when it cannot be loaded (see the module
        docstring); ``load`` gives the labels (None if they cannot be loaded)."""
        key = self.key(record)
        identity = json_sha256([key, (record.config or {}).get("dataset")])
        remembered = self._recall(identity)
        if remembered is not None:
            return key, remembered, lambda: self._loaded(key)
        test = self._loaded(key)
        if test is None:
            return None
        info = self._infos[identity] = TestSetInfo.of(test)
        if self.store is not None:
            try:
                self.store.put_artifact(ARTIFACT, identity, b"", asdict(info))
            except StoreError:  # a read-only store: the next report loads the labels again
                pass
        return key, info, lambda: test

    def _recall(self, identity: str) -> TestSetInfo | None:
        if identity not in self._infos:
            found = self.store.get_artifact(ARTIFACT, identity) if self.store is not None else None
            meta = found[1] if found is not None else None
            self._infos[identity] = None if meta is None else TestSetInfo(
                str(meta["digest"]), int(meta["num_images"]), int(meta["num_entries"]))
        return self._infos[identity]

    def _loaded(self, key: str) -> LabelledTestSet | None:
        if key not in self._cache:
            self._cache[key] = self._load(key)
        return self._cache[key]

    @staticmethod
    def key(record: Any) -> str:
        """The dataset part of the run's selector (test labels do not depend on the protocol)."""
        return str(parse_dataset_selector(record.dataset).dataset)

    def reason(self, record: Any) -> str | None:
        """Why the run's test labels could not be loaded (None if they were, or were not tried)."""
        return self.errors.get(self.key(record))

    def __call__(self, record: Any) -> tuple[str, LabelledTestSet] | None:
        key = self.key(record)
        test = self._loaded(key)
        return None if test is None else (key, test)

    def _load(self, key: str) -> LabelledTestSet | None:
        from bench.runs.resolve import resolve_dataset  # the plugins: only when labels must be read

        try:
            data = resolve_dataset(key).plugin.load()
        except Exception as exc:  # any loading problem means "no bootstrap", reported, never a crash
            self.errors[key] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            return None
        groups = {name: list(members) for name, members in data.class_groups.items()}
        return LabelledTestSet(data.test.labels, list(data.class_names), groups)
