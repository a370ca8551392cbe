"""The manifest: the exact partial-label training setup that every result records.

``build_manifest`` applies a protocol (``bench.labels.protocols``) to the WHOLE official training split,
then carves a validation split from it (seeded, ``val_fraction`` of the rows, or the dataset's
reference ``val_index``); validation labels stay partial. Test labels are not part of it. Protocol
``manifest[path=m.npz]`` reads a saved manifest back instead (``read_shared_manifest``), so two
groups train on bit-identical splits.

``sha256`` covers everything that defines the setup, canonically:
``sha256(json(metadata, sorted keys, compact) + b"\\0" + train_index + val_index + labels)`` with the
indices as little-endian int64 and the labels as their canonical CSR (``bench.labels.encoding.canonical_csr``:
shape, indptr, indices as little-endian int64, data as int8), so the dense and the sparse form of one
matrix hash alike. ``true_positives`` / ``true_positives_val`` (per-class true positive counts of
the training / validation rows, known for fully labelled datasets; diagnostic only) are saved but
not hashed.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.errors import InputError
from bench.labels.encoding import (
    LabelMatrix,
    canonical_csr,
    canonical_csr_arrays,
    is_sparse,
    label_counts,
    validate_labels,
)
from bench.labels.protocols import ProtocolError, apply_protocol, get_protocol, protocol_seed, resolve_protocol_params
from bench.labels.splits import DatasetData

FORMAT_VERSION = 1


class ManifestError(InputError):
    """A manifest that cannot be built, or a saved one that is malformed or altered."""


PARTS = ("train", "val", "all")


@dataclass(frozen=True)
class ManifestStats:
    """Per-class counts (int64, (C,)) over one part of the official training split (``train``,
    ``val`` or ``all`` rows), and the Spearman correlation of the annotated-positive counts with the
    true positive counts (None when those are unknown, NaN when either is constant)."""

    part: str
    positives: np.ndarray
    negatives: np.ndarray
    unannotated: np.ndarray
    true_positives: np.ndarray | None
    spearman: float | None


@dataclass(frozen=True, eq=False)
class Manifest:
    """Class list, protocol (``None`` = native labels) with its resolved parameters, split_seed,
    validation carve, sorted int64 row indices into the official training split, the partial labels
    of every official training row, and ``sha256`` (see the module docstring)."""

    dataset: str
    class_names: list[str]
    protocol: str | None
    protocol_params: dict[str, Any]
    split_seed: int
    val_fraction: float
    val_carve: str
    train_index: np.ndarray
    val_index: np.ndarray
    labels: LabelMatrix
    sha256: str
    true_positives: np.ndarray | None = None
    true_positives_val: np.ndarray | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Manifest) and other.sha256 == self.sha256

    def __hash__(self) -> int:
        return hash(self.sha256)

    def metadata(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION, "dataset": self.dataset, "class_names": list(self.class_names),
            "protocol": self.protocol, "protocol_params": self.protocol_params, "split_seed": self.split_seed,
            "val_fraction": self.val_fraction, "val_carve": self.val_carve,
        }

    def compute_sha256(self) -> str:
        return manifest_sha256(self.metadata(), self.train_index, self.val_index, self.labels)

    def stats(self, part: str = "train") -> ManifestStats:
        """Counts over the ``train`` part (default), the ``val`` part or ``all`` official training
        rows. ``all`` is the protocol's own statistic: e.g. FPC keeps exactly min(n_s, #pos)
        positives over all rows, whereas a part's counts also carry the carve's sampling noise."""
        if part not in PARTS:
            raise ManifestError(f"stats part must be one of {', '.join(PARTS)}; got {part!r}")
        rows = {"train": self.train_index, "val": self.val_index}.get(part)
        counts = label_counts(self.labels if rows is None else self.labels[rows])
        truth, rho = None, None
        if self.true_positives is not None and self.true_positives_val is not None:
            truth = {"train": self.true_positives, "val": self.true_positives_val}.get(part)
            if truth is None:
                truth = self.true_positives + self.true_positives_val
            constant = np.ptp(counts.positives) == 0 or np.ptp(truth) == 0
            rho = float("nan")
            if not constant:
                from scipy.stats import spearmanr  # a second to import: only when statistics are asked for

                rho = float(spearmanr(counts.positives, truth).statistic)
        return ManifestStats(part, counts.positives, counts.negatives, counts.unannotated, truth, rho)

    def save(self, path: str | Path) -> None:
        """One ``.npz`` (no pickle): the metadata as a JSON string, the indices, the canonical CSR."""
        csr = canonical_csr(self.labels)
        arrays = {
            "metadata_json": np.array(
                json.dumps({**self.metadata(), "sha256": self.sha256, "sparse": is_sparse(self.labels)})
            ),
            "train_index": self.train_index, "val_index": self.val_index,
            "labels_shape": np.array(csr.shape, dtype=np.int64),
            "labels_indptr": csr.indptr.astype(np.int64), "labels_indices": csr.indices.astype(np.int64),
            "labels_data": csr.data,
        }
        if self.true_positives is not None and self.true_positives_val is not None:
            arrays["true_positives"], arrays["true_positives_val"] = self.true_positives, self.true_positives_val
        with open(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        """Read a saved manifest; raises ``ManifestError`` when it is malformed or its sha256 differs."""
        import scipy.sparse as sp  # ~0.15 s to import: only when a saved manifest is read

        try:
            with np.load(path, allow_pickle=False) as archive:
                meta = json.loads(str(archive["metadata_json"]))
                csr = sp.csr_array((archive["labels_data"], archive["labels_indices"], archive["labels_indptr"]),
                                   shape=tuple(archive["labels_shape"]))
                arrays = {k: archive[k] for k in ("train_index", "val_index")}
                truth = [archive[k] if k in archive.files else None
                         for k in ("true_positives", "true_positives_val")]
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise ManifestError(f"{path}: not a readable bench manifest ({err})") from None
        if meta.get("format") != FORMAT_VERSION:
            raise ManifestError(f"{path}: manifest format {meta.get('format')!r}, expected {FORMAT_VERSION}")
        labels = validate_labels(csr, f"{path} labels")
        try:
            manifest = cls(
                meta["dataset"], meta["class_names"], meta["protocol"], meta["protocol_params"], meta["split_seed"],
                meta["val_fraction"], meta["val_carve"], arrays["train_index"], arrays["val_index"],
                labels if meta["sparse"] else labels.toarray(), meta["sha256"], *truth,
            )
        except KeyError as err:
            raise ManifestError(f"{path}: manifest metadata lacks {err}") from None
        if manifest.compute_sha256() != manifest.sha256:
            raise ManifestError(f"{path}: sha256 mismatch: the file's content differs from its recorded sha256")
        return manifest


def read_shared_manifest(params: dict[str, Any], shape: tuple[int, int],
                         class_names: list[str] | None = None) -> Manifest:
    """The manifest of protocol ``manifest[path=..., sha256=...]``, checked against the dataset it is
    used on: its sha256 (recomputed on load, and equal to ``sha256`` when given), its label shape
    (official training rows x classes) and, when given, its class list. ``ManifestError`` naming the
    file and what differs."""
    path = params["path"]
    manifest = Manifest.load(path)
    expected = params.get("sha256")
    if expected and manifest.sha256 != expected:
        raise ManifestError(f"{path}: manifest sha256 {manifest.sha256} is not the expected {expected}")
    if tuple(manifest.labels.shape) != tuple(shape):
        raise ManifestError(f"{path}: the manifest labels {manifest.labels.shape[0]} x {manifest.labels.shape[1]} "
                            f"training rows x classes; this dataset has {shape[0]} x {shape[1]}")
    if class_names is not None and list(manifest.class_names) != list(class_names):
        first = next(i for i, (a, b) in enumerate(zip(manifest.class_names, class_names)) if a != b)
        raise ManifestError(f"{path}: class list differs from the dataset's at class {first} "
                            f"({manifest.class_names[first]!r} vs {class_names[first]!r})")
    return manifest


def _shared_split(data: DatasetData, params: dict[str, Any], split_seed: int, val_fraction: float,
                  full: LabelMatrix) -> Manifest:
    """``build_manifest`` under protocol ``manifest``: the saved manifest itself, after checking that
    the run asks for its split seed and validation fraction, and (fully labelled datasets) that
    every annotated entry it holds agrees with the dataset's labels, so it is this dataset's."""
    manifest = read_shared_manifest(params, full.shape, list(data.class_names))
    path = params["path"]
    if int(split_seed) != manifest.split_seed or abs(float(val_fraction) - manifest.val_fraction) > 1e-12:
        raise ManifestError(f"{path}: the manifest was built with split_seed {manifest.split_seed} and "
                            f"val_fraction {manifest.val_fraction:g}; run with the same (got split_seed "
                            f"{split_seed}, val_fraction {val_fraction:g})")
    if data.fully_labelled:
        partial, truth = canonical_csr(manifest.labels), canonical_csr(full)
        rows = np.repeat(np.arange(partial.shape[0]), np.diff(partial.indptr))
        disagree = np.flatnonzero(np.asarray(truth[rows, partial.indices]).ravel() != partial.data)
        if disagree.size:
            row, col = int(rows[disagree[0]]), int(partial.indices[disagree[0]])
            raise ManifestError(f"{path}: training row {row}, class {data.class_names[col]!r} is "
                                f"{int(partial.data[disagree[0]])} in the manifest but not in this dataset's labels: "
                                "the manifest belongs to another dataset or version")
    return manifest


def manifest_sha256(metadata: dict[str, Any], train_index: np.ndarray, val_index: np.ndarray,
                    labels: LabelMatrix) -> str:
    """The canonical digest described in the module docstring."""
    digest = hashlib.sha256(json.dumps(metadata, sort_keys=True, separators=(",", ":")).encode() + b"\0")
    csr = canonical_csr_arrays(labels)
    for part in (train_index, val_index, np.array(csr.shape), csr.indptr, csr.indices):
        digest.update(np.ascontiguousarray(part, dtype="<i8").tobytes())
    digest.update(np.ascontiguousarray(csr.data, dtype=np.int8).tobytes())
    return digest.hexdigest()


def _validation_carve(data: DatasetData, val_fraction: float, split_seed: int) -> tuple[np.ndarray, str]:
    """Sorted validation rows: the dataset's reference ``val_index`` when given, else the
    round(val_fraction * N) rows with the smallest ``random()`` keys of a generator seeded with
    ``protocol_seed(split_seed, "val-carve")``."""
    num_rows = len(data.train)
    if data.val_index is not None:
        val = np.asarray(data.val_index)
        if val.ndim != 1 or val.dtype.kind not in "iu" or np.unique(val).size != val.size or (
                val.size and (val.min() < 0 or val.max() >= num_rows)):
            raise ManifestError(
                f"dataset '{data.name}': val_index must be distinct row indices in 0..{num_rows - 1}"
            )
        return np.sort(val).astype(np.int64), "dataset"
    if not 0.0 <= val_fraction < 1.0:
        raise ManifestError(f"val_fraction must be in [0, 1), got {val_fraction}")
    rng = np.random.Generator(np.random.PCG64(protocol_seed(split_seed, "val-carve")))
    keys = rng.random(num_rows)
    num_val = int(np.floor(val_fraction * num_rows + 0.5))
    return np.sort(np.argsort(keys, kind="stable")[:num_val]).astype(np.int64), "seeded"


def build_manifest(data: DatasetData, protocol: str | None, protocol_params: dict[str, Any], split_seed: int,
                   val_fraction: float = 0.2, dataset_label: str | None = None) -> Manifest:
    """Apply ``protocol`` (None = the dataset's native labels) to the whole official training
    split, carve the validation rows, and return the hashed ``Manifest``."""
    if isinstance(split_seed, bool) or not isinstance(split_seed, (int, np.integer)):
        raise ManifestError(f"split_seed must be an int, got {split_seed!r}")
    full = validate_labels(data.train.labels, f"dataset '{data.name}' training labels", data.num_classes)
    if protocol is not None and get_protocol(protocol).defines_split:
        return _shared_split(data, resolve_protocol_params(protocol, protocol_params), split_seed, val_fraction, full)
    if protocol is None:
        if protocol_params:
            raise ManifestError(f"native labels (no protocol) take no parameters; got {sorted(protocol_params)}")
        params: dict[str, Any] = {}
        labels = full
    else:
        params = resolve_protocol_params(protocol, protocol_params)
        if not data.fully_labelled and get_protocol(protocol).needs_full_labels:
            raise ProtocolError(
                f"dataset '{data.name}' is natively partial; protocol '{protocol}' needs fully labelled "
                f"training labels"
            )
        labels = apply_protocol(protocol, params, full, split_seed, data.train.ids, data.class_names,
                                assessed_unannotated=True, dataset=dataset_label or data.name)
    val_index, carve = _validation_carve(data, val_fraction, split_seed)
    train_index = np.setdiff1d(np.arange(full.shape[0], dtype=np.int64), val_index)
    if carve == "dataset":
        val_fraction = val_index.size / max(full.shape[0], 1)
    truth = [None, None]
    if data.fully_labelled:
        truth = [label_counts(full[train_index]).positives, label_counts(full[val_index]).positives]
    fields = dict(
        dataset=dataset_label or data.name, class_names=list(data.class_names), protocol=protocol,
        protocol_params=params, split_seed=int(split_seed), val_fraction=float(val_fraction), val_carve=carve,
        train_index=train_index, val_index=val_index, labels=labels,
    )
    unhashed = Manifest(**fields, sha256="")
    return Manifest(**fields, sha256=unhashed.compute_sha256(),
                    true_positives=truth[0], true_positives_val=truth[1])
