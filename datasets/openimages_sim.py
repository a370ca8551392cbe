"""openimages-sim: a SIMULATED dataset at OpenImages-V6 scale (labels and features both simulated).

Shape (the defaults): 9,600 classes, 200,000 training rows, 125,436 test rows (the size of the V6
test split), about 1% of the (row, class) entries annotated, natively partial (no protocol applies).

Labels, per class ``c`` of frequency rank ``c`` (class ``oi-sim-0000`` is the most frequent):

* true positives: each row independently with probability ``f_c = 0.5 * (c + 1) ** -0.8`` (a
  long tail: 0.5 for the head class, 3.2e-4 for the last; 13.4 true positives per row on average);
* annotated positives: each true positive with probability 0.9 (the rest stay un-annotated, as in
  OpenImages, where un-verified labels are missing);
* annotated negatives: each other row with probability ``NEGATIVE_RATE`` = 0.88%, so that about 1%
  of all entries carry an annotation (12% of them positive).

Features: ``dim``-d rows from the true positives by the generative model of
``bench.io.simulation`` (the coco-sim model; classes share directions in random groups of about
20), so they are SIMULATED, not image features.

Storage, as a real user's data would be: the first ``load()`` generates everything into a folder
under ``root`` named by the parameters (``openimages-sim-<hash>/``: ``{train,test}_labels.npz``
canonical int8 CSR via ``scipy.sparse.save_npz``, ``{train,test}_features.npy`` float32 written
block by block into a memory map, ``meta.json`` last); later loads read the CSR labels and
memory-map the features. Nothing is ever dense in (rows, classes). Generation is deterministic:
the same parameters give the same files, bit for bit (every draw is seeded from ``(seed, ...)``).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench import DatasetData, DatasetPlugin, Param, Split, register_dataset
from bench.io.errors import DataError
from bench.io.simulation import feature_model, simulate_features

if TYPE_CHECKING:  # scipy.sparse costs ~0.15 s to import and plugin discovery imports every dataset file
    import scipy.sparse as sp

HEAD_FREQUENCY, TAIL_EXPONENT = 0.5, 0.8
POSITIVE_ANNOTATED, NEGATIVE_RATE = 0.9, 0.0088
GROUP_SIZE = 20
FORMAT = "1"  # the files' layout and the label model; part of the folder name
STREAMS = {"train": 1, "test": 2}


def class_frequencies(num_classes: int) -> np.ndarray:
    """True-positive probability ``f_c = 0.5 * (c + 1) ** -0.8`` of each class (long-tailed)."""
    return HEAD_FREQUENCY * np.arange(1, num_classes + 1, dtype=np.float64) ** -TAIL_EXPONENT


def bernoulli_rows(rng: np.random.Generator, rows: int, p: float) -> np.ndarray:
    """Sorted int32 indices of the rows in ``range(rows)`` drawn independently with probability ``p``
    (geometric gaps: time and memory in the number drawn, not in ``rows``)."""
    expected = rows * p
    gaps = rng.geometric(p, size=int(expected + 6 * np.sqrt(expected)) + 16)
    picked = np.cumsum(gaps, dtype=np.int64) - 1
    while picked[-1] < rows:  # rare: more were needed than the margin allowed
        more = rng.geometric(p, size=gaps.size)
        picked = np.concatenate((picked, picked[-1] + np.cumsum(more, dtype=np.int64)))
    return picked[picked < rows].astype(np.int32)


def simulate_labels(rows: int, num_classes: int, seed: int, stream: int) -> tuple[sp.csr_array, sp.csr_array]:
    """(annotated labels: int8 CSR in {1, -1}, true positives: int8 0/1 CSR), both (rows, num_classes)."""
    frequencies = class_frequencies(num_classes)
    parts: dict[str, list] = {"rows": [], "cols": [], "values": [], "true_rows": [], "true_cols": []}
    for c in range(num_classes):
        rng = np.random.default_rng((seed, stream, 1000 + c))
        positives = bernoulli_rows(rng, rows, frequencies[c])
        annotated = positives[rng.random(positives.size) < POSITIVE_ANNOTATED]
        candidates = bernoulli_rows(rng, rows, NEGATIVE_RATE)
        negatives = candidates[~np.isin(candidates, positives, assume_unique=True)]
        both = np.concatenate((annotated, negatives))
        order = np.argsort(both, kind="stable")
        parts["rows"].append(both[order])
        parts["values"].append(np.where(order < annotated.size, 1, -1).astype(np.int8))
        parts["cols"].append(np.full(both.size, c, dtype=np.int32))
        parts["true_rows"].append(positives)
        parts["true_cols"].append(np.full(positives.size, c, dtype=np.int32))
    return (_csr(parts["rows"], parts["cols"], parts["values"], (rows, num_classes)),
            _csr(parts["true_rows"], parts["true_cols"], None, (rows, num_classes)))


def _csr(rows: list, cols: list, values: list | None, shape: tuple[int, int]) -> sp.csr_array:
    """Canonical CSR from per-class pieces (class order, rows ascending within a class)."""
    import scipy.sparse as sp

    row = np.concatenate(rows)
    order = np.argsort(row, kind="stable")  # stable: classes stay ascending within a row
    data = np.ones(row.size, np.int8) if values is None else np.concatenate(values)[order]
    indptr = np.concatenate(([0], np.cumsum(np.bincount(row, minlength=shape[0]), dtype=np.int64)))
    matrix = sp.csr_array((data, np.concatenate(cols)[order], indptr.astype(np.int32)), shape=shape)
    matrix.has_canonical_format = True
    return matrix


def generate(folder: Path, params: dict) -> None:
    """Write the dataset of ``params`` into ``folder`` (``meta.json`` last: its presence means done)."""
    import scipy.sparse as sp

    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    groups = np.random.default_rng((params["seed"], 3)).integers(
        0, max(1, params["num_classes"] // GROUP_SIZE), params["num_classes"])
    model = feature_model(groups, params["dim"], params["seed"], noise=params["noise"])
    for split, stream in STREAMS.items():
        labels, positives = simulate_labels(params[f"{split}_rows"], params["num_classes"], params["seed"], stream)
        sp.save_npz(tmp / f"{split}_labels.npz", labels, compressed=False)
        out = np.lib.format.open_memmap(tmp / f"{split}_features.npy", mode="w+", dtype=np.float32,
                                        shape=(labels.shape[0], params["dim"]))
        simulate_features(model, positives, stream, out)
        out.flush()
        del out, labels, positives
    (tmp / "meta.json").write_text(json.dumps(params, sort_keys=True))
    if folder.exists():  # another process finished first: keep its copy
        shutil.rmtree(tmp)
        return
    tmp.rename(folder)


def _labels(path: Path) -> sp.csr_array:
    import scipy.sparse as sp

    try:
        labels = sp.csr_array(sp.load_npz(path))
    except (OSError, ValueError) as err:
        raise DataError(f"dataset 'openimages-sim': unreadable cached labels ({err}); delete the folder to "
                        "regenerate it", path) from None
    labels.data = labels.data.astype(np.int8, copy=False)
    return labels


@register_dataset("openimages-sim")
class OpenImagesSim(DatasetPlugin):
    """Simulated labels and features at OpenImages-V6 scale (see the module docstring)."""

    version = "1"
    description = ("SIMULATED features and labels at OpenImages-V6 scale: 9,600 long-tailed classes, 200,000 train / "
                   "125,436 test rows, ~1% of entries annotated; generated once into root, then memory-mapped")
    modality = "features"
    root_layout = "anything: openimages-sim generates its files into a sub-folder on first use"
    parameters = {
        "root": Param(None, type=str, help="folder the simulation is generated into on first use (then read)"),
        "train_rows": Param(200_000, type=int, min=2, help="training rows"),
        "test_rows": Param(125_436, type=int, min=2, help="test rows"),
        "num_classes": Param(9_600, type=int, min=2, help="classes (frequency rank order)"),
        "dim": Param(128, type=int, min=2, help="feature width"),
        "noise": Param(0.1, type=float, min=0.0, help="standard deviation of the Gaussian feature noise"),
        "seed": Param(0, type=int, min=0, help="seed of the simulated labels and features"),
    }

    def _params(self) -> dict:
        return {"format": FORMAT, **{k: getattr(self, k) for k in self.parameters if k != "root"}}

    def split_sizes(self) -> dict[str, int]:
        """The split sizes, known without generating anything: the declared row counts."""
        return {"train": self.train_rows, "test": self.test_rows}

    def load(self) -> DatasetData:
        if not self.root:
            raise DataError("dataset 'openimages-sim': parameter 'root' is required (the folder to generate into)",
                            field="root")
        params = self._params()
        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
        folder = Path(self.root).expanduser() / f"openimages-sim-{digest}"
        if not (folder / "meta.json").is_file():
            generate(folder, params)
        splits = {}
        for split in STREAMS:
            labels = _labels(folder / f"{split}_labels.npz")
            features = np.load(folder / f"{split}_features.npy", mmap_mode="c")  # copy-on-write: never written back
            if features.shape != (labels.shape[0], self.dim) or labels.shape[1] != self.num_classes:
                raise DataError(f"dataset 'openimages-sim': cached {split} files disagree ({labels.shape} labels, "
                                f"{features.shape} features); delete the folder to regenerate it", folder)
            splits[split] = Split(labels=labels, features=features,
                                  ids=[f"{split}-{i}" for i in range(labels.shape[0])])
        names = [f"oi-sim-{c:04d}" for c in range(self.num_classes)]
        return DatasetData(name="openimages-sim", class_names=names, train=splits["train"], test=splits["test"],
                           fully_labelled=False, meta={"source": str(folder), "simulated_features": True,
                                                       "simulated_labels": True, **params})
