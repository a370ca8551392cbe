"""Simulated image features from a label matrix: the seeded generative model of ``coco-sim`` and
``openimages-sim`` (SIMULATED features; the labels may be real).

For image ``i`` with true positive classes ``P_i`` (``n_i = |P_i|``) the ``D``-d feature row is

    z_i = sum_{c in P_i} s_c * v_ic * e_c / sqrt(max(n_i, 1))            (signal, clutter-normalised)
    x_i = tanh(g * z_i @ R) + 0.5 * tanh(g * (z_i @ R) ** 2 - g) + sigma * eps_i,   eps_i ~ N(0, I_D)

* ``e_c`` unit class directions: ``e_c = normalise(rho * u_{group(c)} + sqrt(1 - rho^2) * w_c)``
  with ``u``, ``w`` standard normal, so classes of one group (COCO's supercategories) point alike
  and are confused with each other;
* ``s_c = exp(N(0, strength_spread))`` a per-class signal strength (some classes are easy, some
  barely visible);
* ``v_ic ~ Gamma(2, 1/2)`` (mean 1) a per-instance visibility (small or occluded objects);
* ``R`` a random orthogonal ``D x D`` rotation; ``g`` a gain; the second, quadratic term makes the
  map from labels to features non-monotone, so no linear head inverts it;
* ``sigma`` Gaussian noise.

Every random draw comes from ``numpy.random.default_rng``: the class parameters seeded with
``(seed, 0)``, row block ``b`` (``ROW_BLOCK`` rows) of split stream ``k`` (train 1, test 2) with
``(seed, k, b)``, so the features of a row do not depend on how many rows are generated at once and
the whole matrix is deterministic.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # scipy.sparse costs ~0.15 s to import: loaded only where a sparse matrix is built or read
    import scipy.sparse as sp

ROW_BLOCK = 16_384


@dataclass(frozen=True)
class FeatureModel:
    """The class-level parameters of the generative model (see the module docstring)."""

    directions: np.ndarray  # (C, D) float64 unit rows e_c
    strength: np.ndarray  # (C,) s_c
    rotation: np.ndarray  # (D, D) orthogonal R
    gain: float
    noise: float
    seed: int


def feature_model(groups: np.ndarray, dim: int, seed: int, *, noise: float, gain: float = 1.5,
                  group_share: float = 0.6, strength_spread: float = 0.5) -> FeatureModel:
    """The seeded class parameters for ``len(groups)`` classes (``groups``: a group id per class)."""
    groups = np.asarray(groups, dtype=np.int64)
    rng = np.random.default_rng((seed, 0))
    shared = rng.standard_normal((int(groups.max()) + 1, dim))
    own = rng.standard_normal((groups.size, dim))
    directions = group_share * shared[groups] + np.sqrt(1.0 - group_share**2) * own
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    strength = np.exp(strength_spread * rng.standard_normal(groups.size))
    rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    return FeatureModel(directions, strength, rotation, float(gain), float(noise), int(seed))


def simulate_block(model: FeatureModel, positives: sp.csr_array, stream: int, block: int) -> np.ndarray:
    """Features (rows, D) float32 of one row block; ``positives``: its (rows, C) 0/1 CSR true labels."""
    import scipy.sparse as sp

    rng = np.random.default_rng((model.seed, stream, block))
    positives = sp.csr_array(positives)
    amplitude = model.strength[positives.indices] * rng.gamma(2.0, 0.5, positives.indices.size)
    signal = sp.csr_array((amplitude, positives.indices, positives.indptr), shape=positives.shape)
    count = np.maximum(np.diff(positives.indptr), 1)
    z = (signal @ model.directions) / np.sqrt(count)[:, None]
    rotated = model.gain * (z @ model.rotation)
    features = np.tanh(rotated) + 0.5 * np.tanh(rotated**2 - model.gain)
    features += model.noise * rng.standard_normal(features.shape)
    return features.astype(np.float32)


def simulate_features(model: FeatureModel, positives: sp.csr_array, stream: int,
                      out: np.ndarray | None = None) -> np.ndarray:
    """Features (N, D) float32 of every row of ``positives`` (N, C) 0/1, block by block.

    ``out`` (e.g. a ``numpy.memmap``) receives them when given, so the matrix is never held twice."""
    import scipy.sparse as sp

    positives = sp.csr_array(positives)
    rows, dim = positives.shape[0], model.rotation.shape[0]
    out = np.empty((rows, dim), dtype=np.float32) if out is None else out
    for block, start in enumerate(range(0, rows, ROW_BLOCK)):
        stop = min(start + ROW_BLOCK, rows)
        out[start:stop] = simulate_block(model, positives[start:stop], stream, block)
    return out
