"""MULAN scene: the embedded default dataset (real 294-d image features, 6 labels, fully labelled).

Boutell et al. 2004; the standard MULAN split of 1,211 training and 1,196 test images, each described
by 294 spatial LUV colour moments. The data ship with the project in ``datasets/data/scene/``
(see its SOURCE.md), so a fresh clone runs without ``../shared``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bench import DatasetData, DatasetPlugin, Param, Split, register_dataset
from bench.io.checks import check_features, require_rows, require_unique
from bench.io.errors import DataError, require_file
from bench.io.npz import read_npz
from bench.labels.encoding import from_01

VENDORED = Path(__file__).resolve().parent / "data" / "scene" / "scene.npz"
_KEYS = ("X_train", "X_test", "Y_train", "Y_test", "label_names")


def _labels01(values: np.ndarray, path: Path, key: str) -> np.ndarray:
    """A 2-D 0/1 matrix in our encoding; ``DataError`` naming ``key`` and the first bad entry."""
    if values.ndim != 2 or values.dtype.kind not in "biuf":
        raise DataError(f"dataset 'scene': labels must be a 2-D numeric 0/1 array, got {values.dtype} "
                        f"{values.shape}", path, field=key)
    bad = ~np.isin(values, (0, 1))
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(f"dataset 'scene': row {row}, column {col}: {values[row, col].item()!r} is not 0 or 1",
                        path, field=key)
    return from_01(values)


@register_dataset("scene")
class Scene(DatasetPlugin):
    """Fully labelled MULAN scene features; accepts the simulation protocols (rpa, fpc, ...)."""

    version = "1"
    description = "MULAN scene: 294-d colour-moment features of 2,407 images, 6 labels (embedded)"
    modality = "features"
    is_default = True  # the embedded dataset ``bench run`` uses without --dataset
    parameters = {
        "root": Param(None, type=str, help="folder holding scene.npz (default: the vendored copy)"),
    }

    def load(self) -> DatasetData:
        path = Path(self.root) / "scene.npz" if self.root else VENDORED
        require_file(path, "dataset 'scene': scene.npz")
        arrays = read_npz(path, "dataset 'scene': scene.npz")
        missing = [k for k in _KEYS if k not in arrays]
        if missing:
            raise DataError(f"dataset 'scene': lacks the key(s) {', '.join(missing)}", path, field=missing[0])
        names = arrays["label_names"]
        if names.ndim != 1 or names.dtype.kind not in "USiu" or names.size == 0:
            raise DataError(f"dataset 'scene': label_names must be a 1-D array of names, got {names.dtype} "
                            f"{names.shape}", path, field="label_names")
        class_names = [str(n) for n in names]
        if not all(n.strip() for n in class_names):
            raise DataError("dataset 'scene': a label name is empty", path, field="label_names")
        require_unique(class_names, path, "label_names", "dataset 'scene': label name")
        splits = {}
        for split in ("train", "test"):
            check_features(arrays[f"X_{split}"], path, f"X_{split}")
            features = np.ascontiguousarray(arrays[f"X_{split}"], dtype=np.float32)
            labels = _labels01(arrays[f"Y_{split}"], path, f"Y_{split}")
            if features.shape[0] != labels.shape[0] or labels.shape[1] != len(class_names):
                raise DataError(f"dataset 'scene': {split} split has {features.shape[0]} feature rows, "
                                f"{labels.shape} labels and {len(class_names)} class names", path,
                                field=f"Y_{split}")
            require_rows(features.shape[0], path, split)
            ids = [f"{split}-{i}" for i in range(features.shape[0])]
            splits[split] = Split(labels=labels, features=features, ids=ids)
        if splits["train"].features.shape[1] != splits["test"].features.shape[1]:
            raise DataError(f"dataset 'scene': {splits['test'].features.shape[1]} test features per row, "
                            f"{splits['train'].features.shape[1]} in training", path, field="X_test")
        return DatasetData(
            name="scene",
            class_names=class_names,
            train=splits["train"],
            test=splits["test"],
            fully_labelled=True,
            meta={"source": str(path), "feature_dim": int(splits["train"].features.shape[1])},
        )
