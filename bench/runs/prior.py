"""The class prior (CSL, Ben-Baruch et al. CVPR 2022, §4 and eq. 10; docs/methods.md §4): its
estimators, the official CSV format, its cache key, its diagnostics and the ``class_prior`` artifact.

A method declares it with ``PriorSpec(method=..., estimator=...)`` (``bench.plugins.requirements``).
The run's ``prior_path`` (the official ``Classes,avg_pred`` CSV, class order checked) gives the prior
when set; otherwise the run's mode trains a temporary model with ``PriorSpec.method`` on the run's
own training rows, model, recipe and seed (``ArtifactRequest.estimate_prior``) and

* ``posthoc``: prior_c = mean over the training set of sigmoid(z_c), from one inference pass of the
  temporary model after training (CSL eq. 10): feed every batch's logits once to a
  ``PriorAccumulator`` (or call ``posthoc_prior`` on all logits);
* ``running``: the official ``ComputePrior`` behaviour: a running mean of sigmoid(z) over every
  training step's predictions since step 0, never reset between epochs: feed each training batch's
  logits to one ``PriorAccumulator`` for the whole run.

A produced prior is cached in the store's artifacts table under ``prior_cache_key``: the manifest's
sha256 and ``prior_key_fields`` (dataset plugin and parameters, protocol, split, mode, recipe, seed,
estimator, the temporary method's identity), all taken from the resolved configuration, so a sweep
groups the cells that share a prior (``prior_group``) by the same fields. Diagnostics recorded with
the prior: Spearman's rho with the true class frequencies over all classes and the k most frequent
(CSL Figure 7) and the calibration error mean_c |prior_c - freq_c|, against the true training
frequencies when the dataset is fully labelled before the protocol, else against the annotated
frequencies pos_c / (pos_c + neg_c) (never the annotated positive counts: under FPC those are about
constant); ``reference`` and ``reference_description`` say which was used.

CSV (``train_avg_preds.csv`` of the official code): header ``Classes,avg_pred``, then one
``name,value`` row per class in class-index order. The released COCO FPC-1000 file ends with a
stray number line, which ``read_prior_csv`` skips with a warning.
"""
from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from bench.core.errors import InputError
from bench.core.hashing import file_sha256, json_sha256
from bench.labels.encoding import label_counts
from bench.metrics import spearman, top_k_spearman
from bench.plugins.registry import METHODS, plugin_identity
from bench.plugins.requirements import PriorSpec
from bench.runs.artifacts import ArtifactError, ArtifactRequest, register_artifact

if TYPE_CHECKING:  # scipy.sparse (~0.15 s to import) only names the label types here
    import scipy.sparse as sp
    import torch

    from bench.labels.manifest import Manifest
    from bench.runs.resolve import PreparedDataset

HEADER = ("Classes", "avg_pred")
ARTIFACT = PriorSpec.artifact


class PriorFileError(InputError):
    """A prior CSV that does not match the official format or the expected class list."""


class PriorAccumulator:
    """Running mean of sigmoid(logits) over every row fed to ``update`` (float64 sums)."""

    def __init__(self, num_classes: int):
        self.total = np.zeros(num_classes, dtype=np.float64)
        self.count = 0

    def update(self, logits: torch.Tensor | np.ndarray) -> None:
        """Add a (B, C) batch of logits."""
        import torch  # estimators run inside training, which has torch loaded

        probs = torch.sigmoid(torch.as_tensor(logits).detach().float()).double()
        if probs.ndim != 2 or probs.shape[1] != self.total.shape[0]:
            raise ValueError(f"prior: expected logits of shape (B, {self.total.shape[0]}), got {tuple(probs.shape)}")
        self.total += probs.sum(dim=0).cpu().numpy()
        self.count += probs.shape[0]

    def value(self) -> np.ndarray:
        """The current estimate prior_c = sum sigmoid(z_c) / rows seen (float64, shape (C,))."""
        if self.count == 0:
            raise ValueError("prior: no predictions accumulated yet")
        return self.total / self.count


def posthoc_prior(logits: torch.Tensor | np.ndarray | Iterable[torch.Tensor]) -> np.ndarray:
    """CSL eq. 10: mean over the training set of sigmoid(z_c). ``logits``: one (N, C) array or an
    iterable of (B, C) batches from one inference pass, consumed one batch at a time (float64
    sums over the batches in order, as the official code averages batch by batch)."""
    accumulator = None
    for batch in [logits] if hasattr(logits, "shape") else logits:
        if accumulator is None:
            accumulator = PriorAccumulator(int(np.shape(batch)[1]))
        accumulator.update(batch)
    if accumulator is None:
        raise ValueError("prior: no logits given")
    return accumulator.value()


def true_class_frequencies(labels: np.ndarray | sp.spmatrix | sp.sparray) -> np.ndarray:
    """Fraction of rows in which each class is positive (labels in our encoding or 0/1)."""
    positives = (labels == 1).sum(axis=0)
    return np.asarray(positives, dtype=np.float64).reshape(-1) / labels.shape[0]


def prior_spearman(prior: Sequence[float] | np.ndarray, frequencies: Sequence[float] | np.ndarray) -> float:
    """Spearman rank correlation of an estimated prior with the true class frequencies (CSL Fig. 7)."""
    return spearman(np.asarray(prior), np.asarray(frequencies))


def read_prior_csv(path: str | Path, class_names: Sequence[str]) -> np.ndarray:
    """The prior of ``class_names`` (in that order) from an official ``Classes,avg_pred`` CSV.

    Raises ``PriorFileError`` naming the file and line for a bad header, a class out of order,
    a missing or extra class, or a value that is not a probability. A final line holding a single
    number (the released COCO file's stray line) is skipped with a warning.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # a UTF-8 BOM is accepted
            rows = [(number, row) for number, row in enumerate(csv.reader(handle), start=1)
                    if any(f.strip() for f in row)]
    except UnicodeDecodeError as exc:
        raise PriorFileError(f"{path}: not UTF-8 text (byte {exc.start} is 0x{exc.object[exc.start]:02x})") from None
    except OSError as exc:
        raise PriorFileError(f"{path}: cannot read the prior CSV: {exc.strerror or exc}") from None
    except csv.Error as exc:
        raise PriorFileError(f"{path}: not a CSV file ({exc})") from None
    if not rows or tuple(f.strip() for f in rows[0][1]) != HEADER:
        raise PriorFileError(f"{path}:1: expected the header 'Classes,avg_pred'")
    body = rows[1:]
    if body and len(body[-1][1]) == 1 and _is_number(body[-1][1][0]):
        number, row = body.pop()
        warnings.warn(f"{path}:{number}: skipping the stray line {row[0]!r} (not a 'class,value' row)", stacklevel=2)
    values = np.empty(len(class_names), dtype=np.float64)
    for position, (number, row) in enumerate(body):
        if len(row) != 2:
            raise PriorFileError(f"{path}:{number}: expected 'class,avg_pred', got {','.join(row)!r}")
        if position >= len(class_names):
            raise PriorFileError(f"{path}:{number}: extra class {row[0]!r}; expected {len(class_names)} classes")
        if row[0] != class_names[position]:
            raise PriorFileError(f"{path}:{number}: class {row[0]!r} where {class_names[position]!r} is expected "
                                 f"(rows must follow the class order)")
        if not _is_number(row[1]) or not 0.0 <= float(row[1]) <= 1.0:
            raise PriorFileError(f"{path}:{number}: avg_pred {row[1]!r} is not a probability")
        values[position] = float(row[1])
    if len(body) < len(class_names):
        raise PriorFileError(f"{path}: {len(body)} classes, expected {len(class_names)}; "
                             f"missing {class_names[len(body)]!r} after line {body[-1][0] if body else 1}")
    return values


def write_prior_csv(path: str | Path, class_names: Sequence[str], prior: Sequence[float] | np.ndarray) -> None:
    """Write ``prior`` in the official format (header ``Classes,avg_pred``, class order)."""
    prior = np.asarray(prior, dtype=np.float64).reshape(-1)
    if prior.shape[0] != len(class_names):
        raise ValueError(f"prior: {prior.shape[0]} values for {len(class_names)} classes")
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows((name, repr(float(value))) for name, value in zip(class_names, prior))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def spearman_by_top_k(prior: np.ndarray, true_counts: np.ndarray) -> dict[str, float]:
    """CSL Figure 7: Spearman's rho of the estimated prior with the true class frequencies over the
    k most frequent classes, for k = 10, 20, ... and k = C (keys are k as text; NaN values dropped)."""
    num_classes = len(true_counts)
    ks = sorted({*range(10, num_classes + 1, 10), num_classes} - {0, 1})
    curve = {str(k): top_k_spearman(prior, true_counts, k) for k in ks}
    return {k: rho for k, rho in curve.items() if not np.isnan(rho)}


REFERENCES = {
    "true": "true class frequencies of the training rows (the dataset is fully labelled before the protocol)",
    "annotated": "annotated frequencies pos_c / (pos_c + neg_c) of the training rows (the truth is unknown)",
}


def prior_diagnostics(prior: np.ndarray, manifest: Manifest) -> dict[str, Any]:
    """Spearman's rho and the calibration error mean_c |prior_c - freq_c| of ``prior`` against a
    reference frequency freq_c, named in ``reference`` (a key of ``REFERENCES``) and
    ``reference_description``: the training rows' true frequencies when the manifest knows them (a
    fully labelled dataset), else their annotated frequencies; classes without an annotation on the
    training rows are left out of both figures (``classes_compared`` counts the rest). With the
    truth, also CSL Figure 7's top-k Spearman curve. NaN values are reported as None."""
    rows = np.asarray(manifest.train_index)
    if manifest.true_positives is not None:
        counts = np.asarray(manifest.true_positives, dtype=np.float64)
        frequency, reference = counts / max(rows.size, 1), "true"
    else:
        counts_by_kind = label_counts(manifest.labels[rows])
        annotated = np.asarray(counts_by_kind.positives + counts_by_kind.negatives, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            frequency, reference = counts_by_kind.positives / annotated, "annotated"
    known = ~np.isnan(frequency)
    rho = prior_spearman(prior[known], frequency[known]) if known.sum() > 1 else float("nan")
    out: dict[str, Any] = {
        "reference": reference, "reference_description": REFERENCES[reference],
        "classes_compared": int(known.sum()), "spearman": None if np.isnan(rho) else rho,
        "calibration_error": float(np.mean(np.abs(prior[known] - frequency[known]))) if known.any() else None,
    }
    if reference == "true":
        out["spearman_topk"] = spearman_by_top_k(prior, counts)
    return out


def prior_key_fields(config: dict[str, Any]) -> dict[str, Any] | None:
    """What, besides the manifest, decides a run-produced prior, from a resolved configuration;
    None when the run needs no prior or reads it from a file."""
    spec = (config.get("artifacts") or {}).get(ARTIFACT)
    if not spec or spec.get("source") != "run":
        return None
    return {
        "dataset": config["dataset"], "protocol": config["protocol"], "split": config["split"],
        "mode": config["mode"], "recipe": config["recipe"], "seed": config["seed"],
        "estimator": spec.get("estimator"), "method": spec.get("method"),
    }


def prior_group(config: dict[str, Any]) -> str | None:
    """Runs whose configurations share this value share their produced prior (or None)."""
    fields = prior_key_fields(config)
    return None if fields is None else json_sha256(fields)


def prior_cache_key(config: dict[str, Any], manifest_sha256: str) -> str:
    """The store key of a run-produced prior: its group's fields and the manifest's sha256."""
    return json_sha256({"manifest_sha256": manifest_sha256, **prior_key_fields(config)})


def configure_prior(spec: PriorSpec, prior_path: str | None) -> dict[str, Any]:
    """The class prior's part of a run's configuration: the file's sha256, or the temporary method's
    identity and the estimator."""
    if not isinstance(spec, PriorSpec):
        raise ArtifactError(f"a class prior is declared with {spec!r}; declare a PriorSpec(method=...)")
    if prior_path is not None:
        try:
            return {"source": "file", "sha256": file_sha256(prior_path)}
        except OSError as exc:
            raise ArtifactError(f"prior_path {prior_path}: {exc.strerror or exc}") from None
    return {"source": "run", "method": plugin_identity(METHODS.get(spec.method)), "estimator": spec.estimator}


def check_prior_file(path: str, prepared: PreparedDataset) -> None:
    """Refuse a ``prior_path`` file that does not hold the dataset's classes (``read_prior_csv``)."""
    read_prior_csv(path, prepared.manifest.class_names)


@register_artifact(ARTIFACT, configure=configure_prior, file_option="prior_path", check_file=check_prior_file)
def class_prior(spec: PriorSpec, request: ArtifactRequest) -> tuple[torch.Tensor, dict[str, Any]]:
    """The class prior of the run (see the module docstring): C float32 values in class order."""
    import torch

    run, manifest, config = request.resolved.run, request.prepared.manifest, request.resolved.config
    if run.prior_path is not None:
        values = read_prior_csv(run.prior_path, manifest.class_names)
        meta: dict[str, Any] = {"source": "file", "path": str(run.prior_path), "sha256": file_sha256(run.prior_path)}
    else:
        key = prior_cache_key(config, manifest.sha256)
        cached = request.store.get_artifact(ARTIFACT, key)
        if cached is not None:
            values = np.frombuffer(cached[0], dtype="<f8").copy()
            meta = {**cached[1], "cached": True}
        else:
            values = request.estimate_prior(METHODS.get(spec.method)(), spec.estimator)
            meta = {"source": "run", "key": key, "manifest_sha256": manifest.sha256, **prior_key_fields(config)}
            request.store.put_artifact(ARTIFACT, key, values.astype("<f8").tobytes(), meta)
            meta = {**meta, "cached": False}
    meta.update(prior_diagnostics(values, manifest))
    return torch.as_tensor(values, dtype=torch.float32, device=request.device), meta
