"""MULAN scene: the embedded default dataset (real 294-d image features, 6 labels, fully labelled).

Boutell et al. 2004; the standard MULAN split of 1,211 training and 1,196 test images, each described
by 294 spatial LUV colour moments. The data ship with the project in ``datasets/data/scene/``
(see its SOURCE.md), so a fresh clone runs without ``../shared``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bench import DatasetData, DatasetPlugin, Param, Split, register_dataset
from bench.io.errors import DataError, require_file
from bench.labels.encoding import from_01

VENDORED = Path(__file__).resolve().parent / "data" / "scene" / "scene.npz"
_KEYS = ("X_train", "X_test", "Y_train", "Y_test", "label_names")


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
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in _KEYS if k not in npz.files]
            if missing:
                raise DataError(f"dataset 'scene': lacks the key(s) {', '.join(missing)}", path)
            arrays = {k: npz[k] for k in _KEYS}
        class_names = [str(n) for n in arrays["label_names"]]
        splits = {}
        for split in ("train", "test"):
            features = np.ascontiguousarray(arrays[f"X_{split}"], dtype=np.float32)
            labels = from_01(arrays[f"Y_{split}"])
            if features.shape[0] != labels.shape[0] or labels.shape[1] != len(class_names):
                raise DataError(f"dataset 'scene': {split} split has {features.shape[0]} feature rows, "
                                f"{labels.shape} labels and {len(class_names)} class names", path)
            ids = [f"{split}-{i}" for i in range(features.shape[0])]
            splits[split] = Split(labels=labels, features=features, ids=ids)
        return DatasetData(
            name="scene",
            class_names=class_names,
            train=splits["train"],
            test=splits["test"],
            fully_labelled=True,
            meta={"source": str(path), "feature_dim": int(splits["train"].features.shape[1])},
        )
