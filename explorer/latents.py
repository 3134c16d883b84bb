"""Latent-space maths over the one model interface (encode/decode), as numpy in, numpy out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import norm

from training.models import Autoencoder

BATCH = 2048


@dataclass
class Codes:
    mean: np.ndarray  # (N, D) posterior means (the AE's codes)
    std: np.ndarray | None  # (N, D) posterior stds; None for the AE


@torch.no_grad()
def encode(model: Autoencoder, x: torch.Tensor) -> Codes:
    means, stds = [], []
    for start in range(0, len(x), BATCH):
        posterior = model.encode(x[start : start + BATCH])
        means.append(posterior.mean.numpy())
        if posterior.std is not None:
            stds.append(posterior.std.numpy())
    return Codes(np.concatenate(means), np.concatenate(stds) if stds else None)


@torch.no_grad()
def decode(model: Autoencoder, z: np.ndarray) -> np.ndarray:
    """(N, D) codes -> (N, C, H, W) images in [0, 1]."""
    z = np.atleast_2d(np.asarray(z, dtype=np.float32))
    out = [model.decode(torch.from_numpy(z[s : s + BATCH])).numpy() for s in range(0, len(z), BATCH)]
    return np.concatenate(out)


def lerp(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """n points from a to b inclusive, evenly spaced: (n, D). Exact at both ends."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    path = (1 - t) * a[None] + t * b[None]
    path[0], path[-1] = a, b
    return path


def slerp(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Spherical interpolation (Shoemake 1985; White 2016 for latent spaces): (n, D).

    Interpolates the angle between a and b and the norm linearly, so a path between
    codes of equal norm keeps that norm instead of cutting through the low-norm centre.
    """
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < 1e-12 or nb < 1e-12:
        return lerp(a, b, n)
    ua, ub = a / na, b / nb
    omega = np.arccos(np.clip(ua @ ub, -1.0, 1.0))
    if omega < 1e-6:
        return lerp(a, b, n)
    t = np.linspace(0.0, 1.0, n)[:, None]
    direction = (np.sin((1 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
    path = direction * ((1 - t) * na + t * nb)
    path[0], path[-1] = a, b
    return path


INTERPOLATIONS = {"linear": lerp, "spherical": slerp}


def fit_gaussian(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of codes, the AE's stand-in for a prior."""
    cov = np.cov(codes, rowvar=False).reshape(codes.shape[1], codes.shape[1])
    return codes.mean(0), cov + 1e-6 * np.eye(codes.shape[1])


def prior_codes(latent_dim: int, n: int, seed: int, fitted: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """n codes from N(0, I), or from a fitted Gaussian (mean, cov) when given."""
    rng = np.random.default_rng(seed)
    if fitted is None:
        return rng.standard_normal((n, latent_dim)).astype(np.float32)
    return rng.multivariate_normal(*fitted, size=n).astype(np.float32)


def slider_ranges(codes: Codes, variational: bool, margin: float = 0.1) -> np.ndarray:
    """(D, 2) slider bounds: the prior's +-3 sigma for a VAE; the codes' range plus a margin for an AE."""
    d = codes.mean.shape[1]
    if variational:
        return np.tile([-3.0, 3.0], (d, 1))
    lo, hi = codes.mean.min(0), codes.mean.max(0)
    pad = margin * np.maximum(hi - lo, 1e-3)
    return np.stack([lo - pad, hi + pad], axis=1)


def most_active_dims(codes: Codes, k: int = 8) -> np.ndarray:
    """Indices of the k dimensions whose codes vary most across the data, in index order."""
    variance = codes.mean.var(0)
    return np.sort(np.argsort(-variance, kind="stable")[:k])


def traversal_values(codes: Codes, dim: int, n: int, variational: bool) -> np.ndarray:
    """n values along one dimension: Gaussian inverse CDF for a VAE, the codes' quantiles for an AE."""
    q = np.linspace(0.05, 0.95, n)
    return norm.ppf(q) if variational else np.quantile(codes.mean[:, dim], q)


def traversal_grid(base: np.ndarray, dims: tuple[int, int], rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Codes of a grid through base, varying dims[0] down the rows, dims[1] across: (R*C, D)."""
    grid = np.repeat(base[None], len(rows) * len(cols), axis=0)
    grid[:, dims[0]] = np.repeat(rows, len(cols))
    grid[:, dims[1]] = np.tile(cols, len(rows))
    return grid


def nearest_images(queries: np.ndarray, bank: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """For each query image the k nearest bank images by mean squared pixel error.

    queries (M, ...), bank (N, ...) -> indices (M, k), distances (M, k), nearest first.
    """
    q = queries.reshape(len(queries), -1).astype(np.float32)
    b = bank.reshape(len(bank), -1).astype(np.float32)
    # ||q - b||^2 = |q|^2 - 2 q.b + |b|^2, then / pixels for the mean
    d2 = (q * q).sum(1)[:, None] - 2 * q @ b.T + (b * b).sum(1)[None]
    d2 = np.maximum(d2, 0) / q.shape[1]
    k = min(k, len(b))
    idx = np.argpartition(d2, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(d2, idx, 1).argsort(1)
    idx = np.take_along_axis(idx, order, 1)
    return idx, np.take_along_axis(d2, idx, 1)


def plane_grid(lo: np.ndarray, hi: np.ndarray, n: int) -> np.ndarray:
    """(n*n, 2) points of an n x n grid over [lo, hi] in two dimensions, row-major from lo."""
    xs = np.linspace(lo[0], hi[0], n)
    ys = np.linspace(lo[1], hi[1], n)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def endpoint_codes(codes: Codes, a: int, b: int, noise: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Codes of items a and b: posterior means, or (VAE) mean + std * noise with one shared noise vector."""
    za, zb = codes.mean[a].copy(), codes.mean[b].copy()
    if noise is not None and codes.std is not None:
        za += codes.std[a] * noise
        zb += codes.std[b] * noise
    return za, zb


def nearest_phase_item(phases: np.ndarray, target: float) -> int:
    """The item whose phase is closest to target on the cycle."""
    d = np.abs(phases - target) % 1.0
    return int(np.argmin(np.minimum(d, 1.0 - d)))


def class_item(labels: np.ndarray, label: int, nth: int = 0) -> int | None:
    """The nth item (wrapping) with this label, or None when there is none."""
    where = np.flatnonzero(labels == label)
    return int(where[nth % len(where)]) if len(where) else None
