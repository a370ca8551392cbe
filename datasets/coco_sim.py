"""coco-sim: the real COCO-2014 label matrices with SIMULATED image features (a CPU testbed).

Labels: the real image-level labels of MS-COCO 2014, vendored in ``datasets/data/coco_sim/`` (see
its SOURCE.md): training split = train2014 (82,081 images), test split = val2014 (40,137 images),
80 classes in COCO-id order, fully labelled, so the simulation protocols (rpa, fpc, ...) apply and
the papers' label statistics hold: rare classes, few true positives among the un-annotated entries.

Features: NOT image features. Each row is drawn from the label vector by the seeded generative
model of ``bench.io.simulation`` (per-class directions shared within a COCO supercategory, per-class
signal strength, per-instance visibility, a non-linear map and Gaussian noise), so a linear head
trains in seconds and full-label mAP(C) stays well below 100. The same ``seed``, ``dim`` and
``noise`` give the same features, bit for bit; generation takes about a second and is memoised
per process.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench import DatasetData, DatasetPlugin, Param, Split, register_dataset
from bench.io.errors import DataError, require_file
from bench.io.npz import read_npz
from bench.io.simulation import feature_model, simulate_features
from bench.labels.encoding import from_01

if TYPE_CHECKING:  # scipy.sparse costs ~0.15 s to import and plugin discovery imports every dataset file
    import scipy.sparse as sp

VENDORED = Path(__file__).resolve().parent / "data" / "coco_sim" / "coco2014_labels_csr.npz"
SPLITS = {"train": ("train", 1), "test": ("val", 2)}  # our split -> (COCO 2014 split, feature stream)
NUM_CLASSES = 80


def unpack_labels(arrays: dict[str, np.ndarray], split: str, path: Path) -> tuple[sp.csr_array, np.ndarray]:
    """(0/1 CSR labels (N, 80), image ids) of COCO 2014 split ``split`` from the packed arrays:
    ``{split}_id_gaps`` (image id differences), ``{split}_counts`` (positives per row) and
    ``{split}_classes`` (the positive class indices, row by row, ascending)."""
    import scipy.sparse as sp

    gaps, counts, classes = (arrays[f"{split}_{k}"] for k in ("id_gaps", "counts", "classes"))
    if counts.size != gaps.size or int(counts.sum(dtype=np.int64)) != classes.size:
        raise DataError(f"dataset 'coco-sim': {split} arrays disagree ({gaps.size} ids, {counts.size} row counts, "
                        f"{classes.size} positives for {int(counts.sum(dtype=np.int64))} counted)", path,
                        field=f"{split}_counts")
    if classes.size and int(classes.max()) >= NUM_CLASSES:
        raise DataError(f"dataset 'coco-sim': class index {int(classes.max())} >= {NUM_CLASSES}", path,
                        field=f"{split}_classes")
    indptr = np.concatenate(([0], np.cumsum(counts, dtype=np.int64)))
    labels = sp.csr_array((np.ones(classes.size, np.int8), classes.astype(np.int32), indptr),
                          shape=(counts.size, NUM_CLASSES))
    if not labels.has_canonical_format:
        raise DataError(f"dataset 'coco-sim': {split} classes are not ascending within a row", path,
                        field=f"{split}_classes")
    return labels, np.cumsum(gaps, dtype=np.int64)


@functools.lru_cache(maxsize=4)
def _simulate(path: str, mtime_ns: int, seed: int, dim: int, noise: float) -> tuple:
    arrays = read_npz(Path(path), "dataset 'coco-sim': labels")
    missing = [k for k in ("class_names", "supercategory") + tuple(f"{s}_{k}" for s, _ in SPLITS.values()
                                                                  for k in ("id_gaps", "counts", "classes"))
               if k not in arrays]
    if missing:
        raise DataError(f"dataset 'coco-sim': lacks the key(s) {', '.join(missing)}", path, field=missing[0])
    model = feature_model(arrays["supercategory"], dim, seed, noise=noise)
    out = {}
    for ours, (coco, stream) in SPLITS.items():
        labels, ids = unpack_labels(arrays, coco, Path(path))
        features = simulate_features(model, labels, stream)
        features.flags.writeable = False
        out[ours] = (labels, features, [f"COCO_{coco}2014_{i:012d}" for i in ids])
    return [str(n) for n in arrays["class_names"]], out


@register_dataset("coco-sim")
class CocoSim(DatasetPlugin):
    """Real COCO-2014 labels with simulated features (see the module docstring)."""

    version = "1"
    description = ("SIMULATED features (a seeded non-linear function of the label vector) on the real COCO-2014 "
                   "labels: 82,081 train / 40,137 val images, 80 classes; a CPU testbed, not image features")
    modality = "features"
    parameters = {
        "seed": Param(0, type=int, min=0, help="seed of the simulated features (the labels are fixed)"),
        "dim": Param(64, type=int, min=2, help="feature width"),
        "noise": Param(0.15, type=float, min=0.0, help="standard deviation of the Gaussian feature noise"),
    }

    def split_sizes(self) -> dict[str, int]:
        """The split sizes, known without loading: COCO train2014 / val2014."""
        return {"train": 82_081, "test": 40_137}

    def load(self) -> DatasetData:
        path = VENDORED
        require_file(path, "dataset 'coco-sim': coco2014_labels_csr.npz")
        names, splits = _simulate(str(path), path.stat().st_mtime_ns, self.seed, self.dim, self.noise)
        parts = {s: Split(labels=from_01(labels.toarray()), features=np.array(features), ids=list(ids))
                 for s, (labels, features, ids) in splits.items()}
        return DatasetData(
            name="coco-sim", class_names=list(names), train=parts["train"], test=parts["test"], fully_labelled=True,
            meta={"source": str(path), "simulated_features": True, "seed": self.seed, "dim": self.dim,
                  "noise": self.noise},
        )
