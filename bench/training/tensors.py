"""Torch helpers of the runner: label matrices as tensors or label-store inputs, intra-op thread count."""
from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np
import torch

from bench.labels.encoding import LabelMatrix, is_sparse, to_dense, validate_labels
from bench.labels.store import StoredLabels


@contextlib.contextmanager
def intra_op_threads(count: int) -> Iterator[None]:
    """Run the body with ``torch.set_num_threads(count)``, restoring the previous count after.

    Feature heads are far too small to gain from intra-op parallelism; on CPU the runner trains them
    on one thread, which avoids OpenMP contention on busy machines (on this project's 2 shared cores a
    ``scene`` run trained several times slower on 2 threads than on 1) and makes the results
    independent of the machine's core count.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def label_tensor(labels: LabelMatrix, device: torch.device | str = "cpu") -> torch.Tensor:
    """A dense int8 tensor of ``labels`` (our encoding) on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(to_dense(labels))).to(device)


def store_labels(labels: LabelMatrix, device: torch.device | str = "cpu") -> StoredLabels:
    """What a run's ``LabelStore`` is built from: a sparse label matrix stays sparse (int8 CSR, never
    densified), a dense one becomes ``label_tensor(labels, device)``."""
    if is_sparse(labels):
        return validate_labels(labels)
    return label_tensor(labels, device)
