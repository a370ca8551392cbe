"""Partial-annotation protocols: partial labels simulated on a fully labelled training matrix.

``PROTOCOLS[name]`` is a ``ProtocolSpec`` (declared ``parameters``, description, function);
``apply_protocol(name, params, full_labels, split_seed, ids, class_names)`` returns the partial
label matrix in our encoding, dense or sparse like ``full_labels``. Parameters have declared ranges
(rpa's p and known's q in [0, 1], fpc's n_s >= 0), checked when resolved; a result without any
annotated entry is a ``ProtocolError`` (nothing to train on), a result equal to its input a
one-line warning (the protocol changed nothing).

Determinism: every random draw comes from ``numpy.random.Generator(PCG64(seed))`` with ``seed`` a
SHA-256 digest of (protocol, split_seed) (``protocol_seed``), and only from ``Generator.random``
(float64) so that the bits depend on nothing but that seed: identical on every machine and
process, and identical for the dense and the sparse form of one matrix (``bench.labels.sampling``).
CSL's own simulation uses the unseeded global ``np.random`` (docs/methods.md §3.5), which
cannot be reproduced; ``single-positive[draw=cole]`` reproduces Cole et al.'s seeded draw.
"""
from __future__ import annotations

import hashlib
import inspect
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from bench.core.errors import InputError
from bench.core.hashing import file_sha256
from bench.core.params import Param, ParamError, resolve_params, suggest
from bench.labels import files, sampling
from bench.labels.encoding import LabelMatrix, canonical_csr, is_fully_labelled, is_sparse, to_dense, validate_labels
from bench.labels.files import read_partial_label_file
from bench.labels.sampling import drop_annotations, fixed_per_class, single_positive


class ProtocolError(InputError):
    """An unknown protocol, a missing or out-of-range parameter, or labels it cannot apply to."""


@dataclass(frozen=True)
class ProtocolContext:
    """What a protocol function may use besides the labels and its parameters."""

    split_seed: int
    ids: Sequence[str] | None = None

    def rng(self, name: str) -> np.random.Generator:
        return np.random.Generator(np.random.PCG64(protocol_seed(self.split_seed, name)))


@dataclass(frozen=True)
class ProtocolSpec:
    """One protocol: its declared parameters (``required`` ones have no default), a description,
    the function ``(labels, params, context) -> LabelMatrix``, whether it needs full labels, and
    the validation labels its runs select models on by default (``validation_labels``): "partial"
    (the protocol's own labels of the validation rows) or "clean" (their true labels), for
    protocols that leave no annotated negative to validate on (Cole et al. and Large Loss Matters
    validate single-positive runs on clean labels). A protocol that ``defines_split`` (``manifest``)
    also fixes the training / validation rows (``bench.labels.manifest.build_manifest``)."""

    name: str
    description: str
    parameters: dict[str, Param]
    function: Callable[[LabelMatrix, dict, ProtocolContext], LabelMatrix]
    required: tuple[str, ...] = ()
    needs_full_labels: bool = True
    validation_labels: str = "partial"
    defines_split: bool = False


def protocol_seed(split_seed: int, name: str) -> int:
    """128-bit seed: the first 16 bytes (little-endian) of sha256(b"bench-protocol/<name>/<split_seed>")."""
    digest = hashlib.sha256(f"bench-protocol/{name}/{int(split_seed)}".encode()).digest()
    return int.from_bytes(digest[:16], "little")


def _rpa(labels: LabelMatrix, params: dict, ctx: ProtocolContext) -> LabelMatrix:
    """Random per annotation (CSL's RPS, called RPA in its guide, §1.7): each annotation, positive
    or negative, independently dropped with probability p (in [0, 1], checked when resolved)."""
    return drop_annotations(labels, params["p"], ctx.rng("rpa"))


def _known(labels: LabelMatrix, params: dict, ctx: ProtocolContext) -> LabelMatrix:
    """Durand et al. 2019's "q known labels": exactly ``rpa[p=1-q]`` (same draws, same bits)."""
    return _rpa(labels, {"p": 1.0 - params["q"]}, ctx)


def _fpc(labels: LabelMatrix, params: dict, ctx: ProtocolContext) -> LabelMatrix:
    """Fixed per class (CSL ``simulate_coco`` fpc, §1.7): per class min(n_s, #pos) positives and
    min(n_s, #neg) negatives kept uniformly without replacement (``fixed_per_class``; n_s >= 0)."""
    return fixed_per_class(labels, params["n_s"], ctx.rng("fpc"))


def _single_positive(labels: LabelMatrix, params: dict, ctx: ProtocolContext) -> LabelMatrix:
    """One positive per image (``single_positive``); ``draw=cole`` is Cole et al.'s exact
    RandomState(1200) draw and ignores split_seed."""
    return single_positive(labels, None if params["draw"] == "cole" else ctx.rng("single-positive"))


def _files(labels: LabelMatrix, params: dict, ctx: ProtocolContext) -> LabelMatrix:
    """A published partial-label file read as-is (see ``bench.labels.files``)."""
    out = read_partial_label_file(
        params["path"], key=params["key"], encoding=params["encoding"], ids=ctx.ids,
        num_rows=labels.shape[0], num_classes=labels.shape[1],
    )
    return canonical_csr(out) if is_sparse(labels) else to_dense(out)


def _manifest(labels: LabelMatrix, params: dict, ctx: ProtocolContext) -> LabelMatrix:
    """The partial labels of a saved manifest (``bench data prepare --out``), read back and checked
    (``bench.labels.manifest.shared_manifest``); its rows and carve are used by ``build_manifest``."""
    from bench.labels.manifest import read_shared_manifest  # the manifest module builds on this one

    return read_shared_manifest(params, labels.shape).labels


PROTOCOLS: dict[str, ProtocolSpec] = {
    spec.name: spec
    for spec in (
        ProtocolSpec("rpa", "random per annotation: each annotation dropped with probability p",
                     {"p": Param(None, float, min=0.0, max=1.0, help="drop probability, in [0, 1]")}, _rpa, ("p",)),
        ProtocolSpec("known", "q known labels (Durand et al. 2019): alias of rpa[p=1-q]",
                     {"q": Param(None, float, min=0.0, max=1.0, help="kept fraction, in [0, 1]")}, _known, ("q",)),
        ProtocolSpec("fpc", "fixed per class: n_s positives and n_s negatives kept per class",
                     {"n_s": Param(1000, int, min=0, help="annotations kept per class and sign, >= 0")}, _fpc),
        ProtocolSpec("single-positive", "one positive per image chosen uniformly (Cole et al. 2021)",
                     {"draw": Param("seeded", str, help="seeded (split_seed) or cole (their RandomState(1200))",
                                    choices=("seeded", "cole"))}, _single_positive,
                     validation_labels="clean"),
        ProtocolSpec("files", "a published partial-label file read as-is",
                     {"path": Param(None, str, help=".npz/.npy (our/Cole or CSL encoding) or .txt[.gz] lists"),
                      "key": Param(None, str, help="array name inside an .npz"),
                      "encoding": Param("ours", str, help="ours (= Cole, Hill 0/1) or csl",
                                        choices=("ours", "csl"))},
                     _files, ("path",), needs_full_labels=False),
        ProtocolSpec("manifest", "a saved manifest (bench data prepare --out): its labels and split, bit for bit",
                     {"path": Param(None, str, help="the .npz written by bench data prepare"),
                      "sha256": Param(None, str, help="the manifest sha256 it must have (optional)")},
                     _manifest, ("path",), needs_full_labels=False, defines_split=True),
    )
}


def default_val_labels(protocol: str | None) -> str:
    """The validation labels a run under ``protocol`` (None: the dataset's own labels) selects its
    model on unless told otherwise: the protocol's ``validation_labels``, else "partial"."""
    return "partial" if protocol is None else get_protocol(protocol).validation_labels


def get_protocol(name: str) -> ProtocolSpec:
    """The spec of ``name`` or a ``ProtocolError`` suggesting the closest name."""
    if name not in PROTOCOLS:
        raise ProtocolError(
            f"unknown protocol '{name}'{suggest(name, tuple(PROTOCOLS))}; known: {', '.join(PROTOCOLS)}"
        )
    return PROTOCOLS[name]


def resolve_protocol_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared parameter of protocol ``name`` typed, defaults filled; required ones checked."""
    spec = get_protocol(name)
    try:
        resolved = resolve_params(spec.parameters, params, f"protocol '{name}'")
    except ParamError as err:
        raise ProtocolError(str(err)) from None
    missing = [key for key in spec.required if resolved[key] is None]
    if missing:
        raise ProtocolError(f"protocol '{name}': parameter(s) {', '.join(missing)} required")
    return resolved


def apply_protocol(name: str, params: Mapping[str, Any], full_labels: LabelMatrix, split_seed: int,
                   ids: Sequence[str] | None = None, class_names: Sequence[str] | None = None, *,
                   assessed_unannotated: bool = False, dataset: str | None = None) -> LabelMatrix:
    """Partial labels of protocol ``name`` applied to the training matrix ``full_labels``.

    ``full_labels`` must be fully labelled (every entry +-1) except for ``files``, which only uses
    its shape (and ``ids`` to align rows). ``assessed_unannotated=True`` accepts un-annotated entries
    that the dataset itself documents in a fully assessed training set (VOC's "difficult" labels):
    they stay un-annotated and the protocol draws from the annotated entries only, with the same
    random stream as on a fully labelled matrix. ``class_names``, when given, fixes the expected number of
    classes; ``dataset`` names the dataset in messages. The result is dense or sparse like
    ``full_labels``. A ``files`` problem raises ``bench.labels.files.PartialLabelFileError``, everything
    else ``ProtocolError``, also a result without any annotated entry (``rpa[p=1]``, ``fpc[n_s=0]``:
    nothing to train on). A result equal to its input (``fpc[n_s=100000]`` on a small dataset) is
    returned with a one-line ``UserWarning``: the protocol changed nothing.
    """
    spec = get_protocol(name)
    resolved = resolve_protocol_params(name, params)
    if isinstance(split_seed, bool) or not isinstance(split_seed, (int, np.integer)):
        raise ProtocolError(f"protocol '{name}': split_seed must be an int, got {split_seed!r}")
    labels = validate_labels(full_labels, f"protocol '{name}' input labels",
                             None if class_names is None else len(class_names))
    if spec.needs_full_labels and not assessed_unannotated and not is_fully_labelled(labels):
        raise ProtocolError(
            f"protocol '{name}' simulates partial labels and needs a fully labelled training matrix "
            f"(every entry +-1); these labels have un-annotated entries"
        )
    if ids is not None and len(ids) != labels.shape[0]:
        raise ProtocolError(f"protocol '{name}': {len(ids)} ids for {labels.shape[0]} label rows")
    out = spec.function(labels, resolved, ProtocolContext(int(split_seed), ids))
    _check_outcome(name, resolved, labels, out, dataset)
    return out


def protocol_label(name: str, params: Mapping[str, Any]) -> str:
    """``name[key=value,...]`` of a protocol's resolved parameters (None values left out), for messages."""
    given = ",".join(f"{key}={value}" for key, value in params.items() if value is not None)
    return f"{name}[{given}]" if given else name


def _annotated(labels: LabelMatrix) -> int:
    return int(np.count_nonzero(labels.data if is_sparse(labels) else labels))


def _same_labels(first: LabelMatrix, second: LabelMatrix) -> bool:
    if first.shape != second.shape:
        return False
    if not (is_sparse(first) or is_sparse(second)):
        return bool(np.array_equal(first, second))
    a, b = canonical_csr(first), canonical_csr(second)
    return all(np.array_equal(x, y) for x, y in ((a.indptr, b.indptr), (a.indices, b.indices), (a.data, b.data)))


def _check_outcome(name: str, params: Mapping[str, Any], labels: LabelMatrix, out: LabelMatrix,
                   dataset: str | None) -> None:
    """``ProtocolError`` when ``out`` has no annotated entry; a warning when it equals ``labels``."""
    where = f"protocol '{protocol_label(name, params)}' on " + (
        f"dataset '{dataset}'" if dataset else f"the {labels.shape[0]} x {labels.shape[1]} training labels")
    if _annotated(out) == 0:
        raise ProtocolError(f"{where}: no annotated entries remain (every training label is un-annotated), so "
                            "there is nothing to train on; choose parameters that keep some annotations")
    if _same_labels(out, labels):
        warnings.warn(f"{where} changes nothing: all {_annotated(out)} annotated training entries are kept "
                      "(the partial labels equal the full labels)", UserWarning, stacklevel=3)


def protocol_identity(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """What a run's configuration hash records about a protocol: its name and resolved parameters,
    a hash of the source of the protocol modules (this one and the sampling and file readers it
    uses), and for ``files`` and ``manifest`` the sha256 of the file's content, so an edited file is a new
    configuration rather than a silent merge with the old results."""
    digest = hashlib.sha256()
    for module in (sys.modules[__name__], sampling, files):
        digest.update(Path(inspect.getfile(module)).read_bytes())
    identity = {"name": name, "params": dict(params), "source_hash": digest.hexdigest()[:16]}
    if name in ("files", "manifest"):
        path = Path(params["path"])
        if not path.is_file():
            raise ProtocolError(f"protocol '{name}': no file at {path}")
        identity["file_sha256"] = file_sha256(path)
    return identity
