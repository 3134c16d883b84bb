"""Latent geometry: boxes around codes, codes filling them, planes through two codes, and what
the decoder makes of them (the decoder-wide half-moon search, hole maps)."""

from __future__ import annotations

import numpy as np
import torch

from . import moons
from .bank import Bank, half_moon_renders, manifold_distance, real_moons
from .metrics import BATCH
from .models import Autoencoder


def padded_bounds(points: np.ndarray, margin: float, min_extent: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi), each (D,): the points' extent grown by margin times its width on every side.

    min_extent stands in for a zero width, so a constant coordinate still gets a usable range.
    """
    lo, hi = points.min(0), points.max(0)
    pad = margin * np.maximum(hi - lo, min_extent)
    return lo - pad, hi + pad


def box_candidates(lo: np.ndarray, hi: np.ndarray, n: int, seed: int) -> np.ndarray:
    """About n codes filling the box: a grid for 1-D and 2-D codes, uniform draws above. (n', D)"""
    d = len(lo)
    if d <= 2:
        side = int(round(n ** (1 / d)))
        axes = np.meshgrid(*[np.linspace(lo[i], hi[i], side) for i in range(d)], indexing="ij")
        return np.stack([a.ravel() for a in axes], axis=1).astype(np.float32)
    return np.random.default_rng(seed).uniform(lo, hi, size=(n, d)).astype(np.float32)


def closest_half_moon(
    model: Autoencoder,
    bank: Bank,
    lo: np.ndarray,
    hi: np.ndarray,
    n: int = 10_000,
    refine: int = 16,
    steps: int = 100,
    seed: int = 0,
) -> dict:
    """Does the decoder invent a half moon anywhere in the box [lo, hi]? A search, not one path.

    Decode n codes filling the box, then from the refine best start gradient descent (Adam, codes
    clamped to the box) on the distance to the nearest half-moon render (phase 0.2-0.3 or 0.7-0.8).
    Returns the smallest distance found, its code, the recovered phase of that decode and whether
    it is a real half moon in phase units.
    """
    targets = torch.from_numpy(half_moon_renders(bank))  # (K, P)
    codes = torch.from_numpy(box_candidates(lo, hi, n, seed))

    def distance(z: torch.Tensor) -> torch.Tensor:  # (B, D) -> (B,) MSE to the nearest half-moon render
        x = model.decode(z).flatten(1)
        d2 = (x * x).sum(1, keepdim=True) - 2 * x @ targets.T + (targets * targets).sum(1)[None]
        return d2.min(1).values / x.shape[1]

    with torch.no_grad():
        found = torch.cat([distance(codes[s : s + BATCH]) for s in range(0, len(codes), BATCH)])
    z = codes[found.argsort()[:refine]].clone().requires_grad_(True)
    box = torch.from_numpy(np.asarray(lo, np.float32)), torch.from_numpy(np.asarray(hi, np.float32))
    optimiser = torch.optim.Adam([z], lr=0.02 * float((box[1] - box[0]).max()))
    with torch.enable_grad():
        for _ in range(steps):
            optimiser.zero_grad()
            loss = distance(z).sum()
            if not loss.requires_grad:  # a decoder without gradients (a lookup): the starts stand
                break
            loss.backward()
            optimiser.step()
            with torch.no_grad():
                z.copy_(torch.maximum(torch.minimum(z, box[1]), box[0]))
    with torch.no_grad():
        refined = distance(z)
        candidates = torch.cat([refined, found.min()[None]])
        best_code = z[refined.argmin()] if refined.min() <= found.min() else codes[found.argmin()]
        image = model.decode(best_code[None]).numpy()
    valid, phase, _ = real_moons(image, bank)
    return {
        "distance": float(candidates.min()),
        "code": best_code.tolist(),
        "phase": float(phase[0]),
        "is_half_moon": bool(valid[0] and moons.near_half_moon(phase)[0]),
    }


def plane_through(a: np.ndarray, b: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Origin (the midpoint) and two orthogonal axes of a plane through codes a and b.

    Axis 1 runs from the midpoint to b; axis 2 is a random direction orthogonal to it, of the
    same length. With 2-D codes the plane is the latent plane itself.
    """
    origin = (a + b) / 2
    e1 = (b - a) / 2
    length = np.linalg.norm(e1)
    if length < 1e-9:
        e1 = np.eye(len(a))[0]
        length = 1.0
    rng = np.random.default_rng(seed)
    e2 = rng.standard_normal(len(a))
    e2 -= e2 @ e1 / (e1 @ e1) * e1
    if np.linalg.norm(e2) < 1e-9:  # 1-D codes: no second direction
        e2 = np.zeros_like(e1)
    else:
        e2 *= length / np.linalg.norm(e2)
    return origin, e1, e2


@torch.no_grad()
def hole_map(model: Autoencoder, bank: Bank, codes: np.ndarray, n: int = 64, batch: int = 4096) -> np.ndarray:
    """Manifold distance of the decode of each code: (n*n, D) codes -> (n, n) distances, row-major."""
    distances = []
    for start in range(0, len(codes), batch):
        images = model.decode(torch.from_numpy(np.asarray(codes[start : start + batch], dtype=np.float32))).numpy()
        distances.append(manifold_distance(images, bank)[0])
    return np.concatenate(distances).reshape(n, n)
