"""The true-render bank: what a decoded image is compared with to say how far it is from anything real.

For moons, a dense bank of true renders at known phases (the way ACAI, Berthelot et al. 2019,
scored interpolations of lines of known angle): the smallest mean squared pixel error to it is the
manifold distance, and the best match's phase says which moon an image is. For other data the
nearest training image stands in: a proxy, not ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import moons

BANK_PHASES = 1000  # true renders at phases i / 1000


@dataclass
class Bank:
    """Reference images a decoded image is compared with: (M, P) float32, flattened."""

    images: np.ndarray
    phases: np.ndarray | None  # (M,) phase of each true render; None for a proxy bank
    description: str
    radius: np.ndarray | None = None  # (M,) moons.phase_neighbourhood of each render: its "real moon" radius

    @property
    def is_proxy(self) -> bool:
        return self.phases is None


def moon_bank(size: int = 28, jitter: bool = False, n_phases: int = BANK_PHASES) -> Bank:
    """True renders at n_phases phases (times a 3x3x3 size/position grid when jitter is on)."""
    phases = np.arange(n_phases) / n_phases
    if jitter:
        grid = np.array(np.meshgrid(phases, [0.8, 0.9, 1.0], [-2, 0, 2], [-2, 0, 2], indexing="ij")).reshape(4, -1)
        phases, scale, dx, dy = grid
    else:
        scale, dx, dy = 1.0, 0.0, 0.0
    images = moons.render(phases, size, scale, dx, dy)
    radius = moons.phase_neighbourhood(phases, size, scale, dx, dy)
    return Bank(images.reshape(len(images), -1), phases, f"{len(images):,} true renders", radius)


def training_bank(x: torch.Tensor, limit: int = 20_000) -> Bank:
    x = x[:limit]
    return Bank(
        x.reshape(len(x), -1).numpy().astype(np.float32), None, f"nearest of {len(x):,} training images (proxy)"
    )


def bank_for(dataset) -> Bank:
    """Moons get the exact bank (matching the data's size and jitter); anything else a proxy."""
    if dataset.name == "moons" and "phase" in dataset.test.factors:
        jitter = bool(np.any(dataset.test.factors["dx"] != 0))
        return moon_bank(dataset.image_shape[-1], jitter)
    return training_bank(dataset.train.x)


def nearest_by_mse(
    queries: np.ndarray, bank: np.ndarray, k: int = 1, chunk: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """k nearest bank rows by mean squared error: (M, P), (N, P) -> indices (M, k), distances (M, k)."""
    q = queries.reshape(len(queries), -1).astype(np.float32)
    b = bank.reshape(len(bank), -1).astype(np.float32, copy=False)  # the bank is float32 already: no copy a call
    k = min(k, len(b))
    b_sq = (b * b).sum(1)[None]
    all_idx, all_dist = [], []
    for start in range(0, len(q), chunk):
        qc = q[start : start + chunk]
        # ||q - b||^2 = |q|^2 - 2 q.b + |b|^2, as one matrix product
        d2 = np.maximum((qc * qc).sum(1)[:, None] - 2 * qc @ b.T + b_sq, 0) / q.shape[1]
        idx = np.argpartition(d2, k - 1, axis=1)[:, :k] if k < len(b) else np.tile(np.arange(len(b)), (len(qc), 1))
        order = np.take_along_axis(d2, idx, 1).argsort(1)
        idx = np.take_along_axis(idx, order, 1)
        all_idx.append(idx)
        all_dist.append(np.take_along_axis(d2, idx, 1))
    return np.concatenate(all_idx), np.concatenate(all_dist)


def manifold_distance(images: np.ndarray, bank: Bank) -> tuple[np.ndarray, np.ndarray | None]:
    """Per image: the MSE to the closest bank image, and (moons) the phase of that match."""
    idx, dist = nearest_by_mse(images, bank.images, k=1)
    phases = None if bank.phases is None else bank.phases[idx[:, 0]]
    return dist[:, 0], phases


def real_moons(images: np.ndarray, bank: Bank) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which images are real moons, in phase units: (N,) valid, recovered phase, distance.

    An image is a real moon of phase p when p is the phase of its nearest true render and it is no
    further from that render than the renders moons.PHASE_TOLERANCE of a cycle away are.
    """
    idx, dist = nearest_by_mse(images, bank.images, k=1)
    idx, dist = idx[:, 0], dist[:, 0]
    return dist <= bank.radius[idx], bank.phases[idx], dist


def half_moon_renders(bank: Bank) -> np.ndarray:
    """The bank's renders whose phase is in the half-moon band: (K, P)."""
    return bank.images[moons.near_half_moon(bank.phases)]
