"""The Python API for researchers' own training loops, and the selector resolution the runner shares.

```
loss_fn = bench.get_method("negative")                  # a Method: loss_fn.loss(logits, labels, state=None)
ds = bench.get_dataset("scene+rpa[p=0.5]", split_seed=0)  # ds.data (DatasetData), ds.manifest (Manifest)
```
A dataset selector without ``+protocol`` uses the dataset's own labels (complete for a fully
labelled dataset, native partial labels for LVIS / OpenImages). A selector without ``root`` gets the
user's stored or ``$BENCH_DATA`` folder (``bench.runs.data_roots``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.core.errors import InputError
from bench.core.params import ParamError
from bench.labels.encoding import LabelMatrix, validate_labels
from bench.labels.manifest import Manifest, build_manifest
from bench.labels.protocols import resolve_protocol_params
from bench.plugins.dataset import DatasetData, DatasetPlugin
from bench.plugins.registry import DATASETS, METHODS
from bench.plugins.selectors import format_selector, parse_dataset_selector, parse_selector
from bench.runs.data_roots import fill_root, require_root

if TYPE_CHECKING:
    from bench.plugins.method import Method

VAL_LABELS = ("partial", "clean")


@dataclass(frozen=True)
class ResolvedDataset:
    """A dataset selector resolved: the plugin with typed parameters and the typed protocol."""

    selector: str
    plugin: DatasetPlugin
    protocol: str | None
    protocol_params: dict[str, Any]

    @property
    def label(self) -> str:
        """Canonical selector: the non-default dataset parameters and every protocol parameter, typed."""
        plugin = self.plugin
        changed = {k: v for k, v in plugin.params.items() if v != plugin.parameters[k].default}
        label = format_selector(type(plugin).name, changed)
        if self.protocol is not None:
            label += "+" + format_selector(self.protocol, self.protocol_params)
        return label


@dataclass
class PreparedDataset:
    """A loaded dataset with the manifest of one split seed: what ``get_dataset`` returns.

    ``manifest.labels`` are the partial labels of every official training row;
    ``manifest.train_index`` / ``val_index`` select the rows a run trains on / selects its model on.
    ``val_labels``: the validation rows' labels are the protocol's ("partial") or the dataset's
    true ones ("clean", fully labelled datasets only).
    """

    selector: str
    data: DatasetData
    manifest: Manifest
    val_labels: str = "partial"

    def labels(self, split: str) -> LabelMatrix:
        """Partial labels of the ``train`` or ``val`` rows, or the test labels for ``test``."""
        if split == "test":
            return self.data.test.labels
        if split == "val" and self.val_labels == "clean":
            return self.data.train.labels[self.rows(split)]
        return self.manifest.labels[self.rows(split)]

    def rows(self, split: str) -> np.ndarray:
        """Row indices into the official training split of the ``train`` or ``val`` rows."""
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got '{split}'")
        return np.asarray(self.manifest.train_index if split == "train" else self.manifest.val_index)

    def features(self, split: str) -> np.ndarray:
        """Feature rows (float32) of ``train``, ``val`` or ``test`` (feature datasets only)."""
        source = self.data.test if split == "test" else self.data.train
        if source.features is None:
            raise ValueError(f"dataset '{self.data.name}' has no features (kind images)")
        return source.features if split == "test" else source.features[self.rows(split)]


def method_selector(text: str, **params: Any) -> tuple[type[Method], dict[str, Any], str]:
    """(class, merged raw parameters, canonical selector text) of ``text`` plus keyword parameters."""
    selector = parse_selector(text)
    cls = METHODS.get(selector.name)
    doubled = sorted(set(selector.params) & set(params))
    if doubled:
        raise ParamError(f"method '{selector.name}': parameter '{doubled[0]}' given both in the selector "
                         "and as a keyword")
    merged: dict[str, Any] = {**selector.params, **params}
    return cls, merged, format_selector(selector.name, merged)


def get_dataset_class(name: str) -> type[DatasetPlugin]:
    """The dataset plugin class registered as ``name`` (for a plugin that builds on another's
    reader, e.g. ``coco-mini`` on ``coco``)."""
    return DATASETS.get(name)


def get_method(selector_or_name: str, **params: Any) -> Method:
    """A ready method object, e.g. ``get_method("p-asl[gamma_neg=4]", clip=0.05)``.

    Parameters come from the selector (strings, typed by the declaration) and keywords (Python
    values); unknown names and ill-typed values raise ``ParamError``.
    """
    cls, merged, _ = method_selector(selector_or_name, **params)
    return cls(**merged)


def resolve_dataset(selector: str) -> ResolvedDataset:
    """Type a dataset selector's parameters and its protocol's, without loading any data."""
    parsed = parse_dataset_selector(selector)
    cls = DATASETS.get(parsed.dataset.name)
    plugin = cls(**fill_root(cls, parsed.dataset.params))
    protocol, protocol_params = None, {}
    if parsed.protocol is not None:
        protocol = parsed.protocol.name
        protocol_params = resolve_protocol_params(protocol, parsed.protocol.params)
    return ResolvedDataset(str(parsed), plugin, protocol, protocol_params)


def check_splits(data: DatasetData) -> None:
    """Validate the test labels (our encoding, the dataset's class count; converted to int8 in
    place) and that each split's features, when present, have one (N, D) row per label row.
    Raises ``LabelError`` / ``ValueError`` naming the dataset and split."""
    data.test.labels = validate_labels(data.test.labels, f"dataset '{data.name}' test labels", data.num_classes)
    for name, split in (("train", data.train), ("test", data.test)):
        if split.features is not None and (split.features.ndim != 2 or len(split.features) != len(split)):
            raise ValueError(f"dataset '{data.name}' {name} split: features of shape {split.features.shape} "
                             f"for {len(split)} label rows")


def prepare(resolved: ResolvedDataset, split_seed: int = 0, val_fraction: float = 0.2,
            val_labels: str = "partial") -> PreparedDataset:
    """Load and check the dataset, build the manifest of (protocol, split seed, validation fraction);
    ``val_labels="clean"`` (validation on true labels) needs a fully labelled dataset."""
    if val_labels not in VAL_LABELS:
        raise InputError(f"val_labels must be one of {', '.join(VAL_LABELS)}; got '{val_labels}'")
    require_root(resolved.plugin)
    data = resolved.plugin.load()
    check_splits(data)
    if val_labels == "clean" and not data.fully_labelled:
        raise InputError(f"dataset '{resolved.label}': clean validation labels need a fully labelled dataset "
                         "(this one is natively partial): use val_labels partial")
    manifest = build_manifest(
        data, resolved.protocol, resolved.protocol_params, split_seed, val_fraction=val_fraction,
        dataset_label=resolved.label,
    )
    return PreparedDataset(resolved.label, data, manifest, val_labels)


def get_dataset(selector: str, split_seed: int = 0, val_fraction: float = 0.2) -> PreparedDataset:
    """The dataset of ``selector`` (e.g. ``"scene+rpa[p=0.5]"``) with the manifest of ``split_seed``."""
    return prepare(resolve_dataset(selector), split_seed=split_seed, val_fraction=val_fraction)
