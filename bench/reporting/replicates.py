"""Each run's bootstrap replicates, computed once and cached in the store by content.

A run's entry is its statistics on the unit weights (``point``: its own test metrics, used to check
the stored scores against the recorded metrics) and on the B paired-bootstrap resamples of its test
images (``bench.reporting.bootstrap.PairedBootstrap``). The cache key is

    sha256(ALGORITHM | n_boot | seed | sha256(test labels CSR, class names, class groups) | sha256(scores))

(``n_boot``: the replicates used, ``replicates_for``), so a run whose scores change, a test set whose
labels change, or other bootstrap settings compute
afresh; the same inputs give the same numbers, cached or not (the computation is deterministic).
Entries live in the store's ``bootstrap_replicates`` table (``Store.bootstrap_replicates``); a store
that cannot be written is used without writing. Missing entries are computed in ``workers``
processes (forked; one per usable CPU by default) when there are enough of them, or enough work in
them, to pay for it.

Replicates used (``replicates_for``): the B asked, but at most ``ENTRY_RESAMPLES`` / E for a test set
of E annotated entries (each replicate costs O(E) per run) and never fewer than ``MIN_REPLICATES``:
the first B' of the same seeded resamples. The test built on them (``bench.reporting.significance``)
uses the replicates' variance only, and B' >= 200 estimates a standard error to within about
1 / sqrt(2 B') (5% at 200; Efron & Tibshirani 1993, ch. 6); the report's footnote states B'.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.reporting.bootstrap import LabelledTestSet, PairedBootstrap
from bench.store.errors import StoreError

ALGORITHM = "paired-bootstrap-v1"
PARALLEL_FROM = 16  # fewer runs to compute than this: no worker processes ...
PARALLEL_WORK = 2_000_000_000  # ... unless they hold this many entry-resamples (a few seconds each)
ENTRY_RESAMPLES = 4_000_000_000  # entries x replicates of one run, at most (see the module docstring)
MIN_REPLICATES = 200
Entry = dict[str, tuple[float, np.ndarray]]  # statistic -> (point, replicates)


def replicates_for(n_boot: int, num_entries: int) -> int:
    """The replicates used on a test set of ``num_entries`` annotated entries when ``n_boot`` are asked."""
    return min(int(n_boot), max(MIN_REPLICATES, ENTRY_RESAMPLES // max(int(num_entries), 1)))


def labels_digest(test: LabelledTestSet) -> str:
    """sha256 of the test labels (canonical CSR), class names and class groups."""
    from bench.labels.encoding import canonical_csr

    csr = canonical_csr(test.labels)
    digest = hashlib.sha256()
    for array in (np.asarray(csr.shape, np.int64), csr.indptr.astype(np.int64), csr.indices.astype(np.int64),
                  csr.data.astype(np.int8)):
        digest.update(array.tobytes())
    groups = {name: sorted(int(i) for i in members) for name, members in test.class_groups.items()}
    digest.update(json.dumps([list(test.class_names), groups], sort_keys=True).encode())
    return digest.hexdigest()


def cache_key(test_digest: str, scores: np.ndarray, n_boot: int, seed: int) -> str:
    """The content key of one run's replicates (see the module docstring)."""
    score_digest = hashlib.sha256(np.ascontiguousarray(scores, dtype="<f4").tobytes()).hexdigest()
    return hashlib.sha256(f"{ALGORITHM}|{n_boot}|{seed}|{test_digest}|{score_digest}".encode()).hexdigest()


def usable_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_WORKER_BOOTSTRAPS: dict[str, PairedBootstrap] = {}


def _compute(job: tuple[str, np.ndarray, tuple[str, ...]]) -> Entry:
    """One run's entry (in a worker: the bootstraps are inherited through fork)."""
    test_key, scores, statistics = job
    point, replicates = _WORKER_BOOTSTRAPS[test_key].evaluate(scores, statistics)
    return {s: (point[s], replicates[s]) for s in statistics}


@dataclass(frozen=True)
class TestSetInfo:
    """What the cache needs of a test set without loading it: its labels digest and sizes."""

    digest: str
    num_images: int
    num_entries: int

    @classmethod
    def of(cls, test: LabelledTestSet) -> TestSetInfo:
        from bench.labels.encoding import canonical_csr

        csr = canonical_csr(test.labels)
        return cls(labels_digest(test), int(csr.shape[0]), int(csr.nnz))


class ReplicateCache:
    """Entries by content key: in memory, then the store (``store`` may be None: memory only)."""

    def __init__(self, store: Any = None, n_boot: int = 1000, seed: int = 0, workers: int | None = None):
        self.store, self.n_boot, self.seed = store, int(n_boot), int(seed)
        self.workers = usable_cpus() if workers is None else max(1, int(workers))
        self.tests: dict[str, TestSetInfo] = {}
        self._loaders: dict[str, Callable[[], LabelledTestSet]] = {}
        self._bootstraps: dict[str, PairedBootstrap] = {}
        self._entries: dict[str, Entry] = {}
        self.computed = 0  # entries computed here (not found in the cache)
        self.write_error: str | None = None

    def register(self, test_key: str, info: TestSetInfo, load: Callable[[], LabelledTestSet | None]) -> None:
        """A test set known by its info; ``load`` gives its labels (None: not available here) when
        an entry must be computed."""
        if test_key not in self.tests:
            self.tests[test_key], self._loaders[test_key] = info, load

    def bootstrap(self, test_key: str, test: LabelledTestSet | None = None) -> PairedBootstrap | None:
        """The paired bootstrap of a test set (``test`` registers it), built once; None when its
        labels cannot be loaded."""
        if test is not None:
            self.register(test_key, TestSetInfo.of(test), lambda: test)
        if test_key not in self._bootstraps:
            labels = self._loaders[test_key]()
            self._bootstraps[test_key] = None if labels is None else PairedBootstrap(
                labels, n_boot=self.n_boot_for(test_key), seed=self.seed)
        return self._bootstraps[test_key]

    def n_boot_for(self, test_key: str) -> int:
        """The replicates used on a registered test set (``replicates_for``)."""
        return replicates_for(self.n_boot, self.tests[test_key].num_entries)

    def entries(self, jobs: Sequence[tuple[str, np.ndarray, Sequence[str]]]) -> list[Entry | None]:
        """The entries of ``jobs`` (a registered test key, scores, statistics), each holding at least
        the statistics asked; missing ones computed, then written to the store. None for a job that
        must be computed on a test set whose labels cannot be loaded."""
        keys = [cache_key(self.tests[t].digest, s, self.n_boot_for(t), self.seed) for t, s, _ in jobs]
        unknown = [k for k in dict.fromkeys(keys) if k not in self._entries]
        if unknown and self.store is not None:
            self._entries.update(self.store.bootstrap_replicates(unknown))
        todo: dict[str, tuple[str, np.ndarray, tuple[str, ...]]] = {}
        for key, (test_key, scores, statistics) in zip(keys, jobs):
            have = set(self._entries.get(key, {}))
            wanted = set(statistics) | set(todo[key][2] if key in todo else ())
            if not wanted <= have:
                todo[key] = (test_key, scores, tuple(sorted(wanted - have)))
        todo = {k: job for k, job in todo.items() if self.bootstrap(job[0]) is not None}
        if todo:
            self._fill(todo)
        found = [(self._entries.get(k), stats) for k, (_, _, stats) in zip(keys, jobs)]
        return [entry if entry is not None and set(stats) <= set(entry) else None for entry, stats in found]

    def _fill(self, todo: dict[str, tuple[str, np.ndarray, tuple[str, ...]]]) -> None:
        jobs = list(todo.values())
        _WORKER_BOOTSTRAPS.clear()
        _WORKER_BOOTSTRAPS.update({test_key: self.bootstrap(test_key) for test_key, _, _ in jobs})
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        workers = min(self.workers, len(jobs))
        fork = "fork" in multiprocessing.get_all_start_methods()
        work = sum(self.tests[t].num_entries * self.n_boot_for(t) for t, _, _ in jobs)
        results = None
        if workers > 1 and (len(jobs) >= PARALLEL_FROM or work >= PARALLEL_WORK) and fork:
            try:
                with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                    results = list(pool.map(_compute, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
            except (OSError, BrokenProcessPool):  # no processes to be had here: compute in this one
                results = None
        if results is None:
            results = [_compute(job) for job in jobs]
        _WORKER_BOOTSTRAPS.clear()
        new: dict[str, Entry] = {}
        for key, entry in zip(todo, results):
            self._entries[key] = {**self._entries.get(key, {}), **entry}
            new[key] = entry
        self.computed += len(new)
        if self.store is not None:
            try:
                self.store.put_bootstrap_replicates(new)
            except StoreError as exc:  # a read-only store still reports; the next report recomputes
                self.write_error = str(exc)
