"""Paths between two codes: straight (lerp) and spherical (slerp). numpy in, numpy out.

The one home of this maths: explorer/latents.py re-exports it for the pages, lab.py decodes along it.
"""

from __future__ import annotations

import numpy as np


def lerp_at(a: np.ndarray, b: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Points at fractions t of the straight line from a to b: (..., D)."""
    t = np.asarray(t, dtype=np.float64)[..., None]
    return (1 - t) * a + t * b


def slerp_at(a: np.ndarray, b: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Spherical interpolation (Shoemake 1985; White 2016 for latent spaces) at fractions t.

    Interpolates the angle between a and b and the norm linearly, so a path between
    codes of equal norm keeps that norm instead of cutting through the low-norm centre.
    """
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < 1e-12 or nb < 1e-12:
        return lerp_at(a, b, t)
    ua, ub = a / na, b / nb
    omega = np.arccos(np.clip(ua @ ub, -1.0, 1.0))
    if omega < 1e-6:
        return lerp_at(a, b, t)
    t = np.asarray(t, dtype=np.float64)[..., None]
    direction = (np.sin((1 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
    return direction * ((1 - t) * na + t * nb)


POINT_AT = {"linear": lerp_at, "spherical": slerp_at}


def _path(point_at, a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    path = point_at(a, b, np.linspace(0.0, 1.0, n))
    path[0], path[-1] = a, b  # exact at both ends, whatever the rounding
    return path


def lerp(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """n evenly spaced points from a to b inclusive: (n, D)."""
    return _path(lerp_at, a, b, n)


def slerp(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """n points along slerp_at from a to b inclusive: (n, D)."""
    return _path(slerp_at, a, b, n)


INTERPOLATIONS = {"linear": lerp, "spherical": slerp}
