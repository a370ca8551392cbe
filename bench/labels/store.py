"""The run's own copy of the training labels (our encoding: 1 / -1 / 0), which a method may update
(e.g. LL-Cp's permanent flips). Dataset files are never touched.

Two storages, chosen by the input: a dense int8 torch tensor (N, C), kept on its device and
indexed directly; or a scipy CSR label matrix (``bench.labels.encoding``: only annotated entries stored),
kept sparse on the host (``bench.labels.sparse_rows``) and densified one batch at a time, so an
OpenImages-scale label matrix (9M x 9,605, ~1% annotated: ~86 GB dense) fits in memory. Both give
identical batches and identical results after the same ``set`` calls.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from bench.labels.encoding import is_sparse
from bench.labels.sparse_rows import SparseLabelRows

if TYPE_CHECKING:  # scipy.sparse costs ~0.15 s to import: a dense store never needs it
    import scipy.sparse as sp

    StoredLabels = torch.Tensor | sp.csr_array | sp.csr_matrix
else:  # used only in annotations (strings under ``from __future__ import annotations``); importable by name
    StoredLabels = "torch.Tensor | sp.csr_array | sp.csr_matrix"


class LabelStore:
    """The training labels of one run: ``batch`` reads rows, ``set`` writes entries and counts the
    changes (``changes``), ``state_dict`` / ``load_state_dict`` checkpoint both."""

    def __init__(self, labels: StoredLabels, device: torch.device | str | None = None):
        """``labels``: a dense tensor (copied as int8, batches on its device) or a scipy sparse label
        matrix (copied; batches on ``device``, default CPU)."""
        self.changes = 0
        if is_sparse(labels):
            self._sparse: SparseLabelRows | None = SparseLabelRows(labels)
            self._dense: torch.Tensor | None = None
            self.device = torch.device(device if device is not None else "cpu")
        else:
            self._sparse, self._dense = None, labels.to(torch.int8).clone()
            self.device = self._dense.device

    @property
    def is_sparse(self) -> bool:
        """True when the labels are kept as a sparse CSR."""
        return self._sparse is not None

    @property
    def num_rows(self) -> int:
        """N, the number of training rows."""
        return int(self._dense.shape[0]) if self._sparse is None else self._sparse.shape[0]

    @property
    def num_classes(self) -> int:
        """C, the number of classes."""
        return int(self._dense.shape[1]) if self._sparse is None else self._sparse.shape[1]

    @property
    def labels(self) -> StoredLabels:
        """The current labels: the dense tensor itself, or a CSR copy of the sparse storage."""
        return self._dense if self._sparse is None else self._sparse.csr().copy()

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        """Labels of the rows ``indices`` (dataset indices of the training split): (B, C) int8."""
        if self._sparse is None:
            return self._dense[indices.to(self.device)]
        rows = self._sparse.rows(indices.cpu().numpy())
        return torch.from_numpy(rows).to(self.device)

    def set(self, rows: torch.Tensor, cols: torch.Tensor, value: int) -> None:
        """Set entries (rows[i], cols[i]) to ``value`` and count the entries that differed."""
        if self._sparse is None:
            rows, cols = rows.to(self.device), cols.to(self.device)
            changed = self._dense[rows, cols] != value
            self.changes += int(changed.sum())
            self._dense[rows, cols] = value
            return
        rows_np, cols_np = rows.cpu().numpy(), cols.cpu().numpy()
        self.changes += int((self._sparse.values_at(rows_np, cols_np) != value).sum())
        self._sparse.assign(rows_np, cols_np, value)

    def state_dict(self) -> dict[str, Any]:
        """The labels and the change count as CPU tensors and numbers (``torch.load(weights_only=True)``)."""
        if self._sparse is None:
            return {"kind": "dense", "labels": self._dense.detach().to("cpu", copy=True), "changes": self.changes}
        csr = self._sparse.csr()
        return {"kind": "sparse", "shape": list(self._sparse.shape), "changes": self.changes,
                "indptr": torch.from_numpy(csr.indptr.astype(np.int64)),
                "indices": torch.from_numpy(csr.indices.astype(np.int64)),
                "data": torch.from_numpy(np.ascontiguousarray(csr.data, dtype=np.int8))}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict`` of a store of the same kind and shape."""
        kind = "sparse" if self.is_sparse else "dense"
        shape = list(state["labels"].shape) if state.get("kind") == "dense" else state.get("shape")
        if state.get("kind") != kind or list(shape) != [self.num_rows, self.num_classes]:
            raise ValueError(f"label store state: {state.get('kind')} {shape} does not match this "
                             f"{kind} store of shape {[self.num_rows, self.num_classes]}")
        if self._sparse is None:
            self._dense.copy_(state["labels"].to(self.device))
        else:
            self._sparse = SparseLabelRows.from_arrays(
                (int(shape[0]), int(shape[1])), state["indptr"].numpy(), state["indices"].numpy(),
                state["data"].numpy())
        self.changes = int(state["changes"])
