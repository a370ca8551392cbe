"""The ``class_positive_rate`` artifact: per class, the fraction of the run's training rows that are
positive in the dataset's full labels (C floats in class order). Its sum is the training split's
mean number of positives per image, Cole et al.'s expected_num_pos when a method is not given one.
Refused (``ArtifactError``) when the dataset's training labels are not fully annotated."""
from __future__ import annotations

from typing import Any

from bench.runs.artifacts import ArtifactError, ArtifactRequest, register_artifact
from bench.runs.prior import true_class_frequencies

ARTIFACT = "class_positive_rate"


def configure_positive_rate(spec: Any, file: str | None) -> dict[str, Any]:
    """Its part of the run's configuration: the statistic (the data is hashed with the manifest)."""
    return {"source": "train-full-labels", "spec": dict(spec) if isinstance(spec, dict) else str(spec)}


@register_artifact(ARTIFACT, configure=configure_positive_rate)
def class_positive_rate(spec: Any, request: ArtifactRequest) -> tuple[Any, dict[str, Any]]:
    """C float32 rates on the run's device; provenance records k = their sum."""
    import torch

    prepared = request.prepared
    labels = prepared.data.train.labels[prepared.rows("train")]
    if not prepared.data.fully_labelled:
        raise ArtifactError(f"method '{request.resolved.method.name}' needs expected_num_pos: dataset "
                            f"'{prepared.data.name}' has no full training labels to count positives in "
                            "(give expected_num_pos, e.g. a preset)")
    rate = true_class_frequencies(labels)  # sparse labels stay sparse
    meta = {"expected_num_pos": float(rate.sum()), "rows": int(labels.shape[0])}
    return torch.as_tensor(rate, dtype=torch.float32, device=request.device), meta
