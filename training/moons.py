"""The moon at a given phase, rendered from first principles: our ground truth.

Phase runs 0 -> 1: 0 new (dark), 0.25 first quarter (right half lit: the "half moon"),
0.5 full, 0.75 last quarter (left half lit), back to new at 1. A point (x, y) of the disc
with depth z = sqrt(r^2 - x^2 - y^2) is lit when its normal faces the sun, whose direction
is (sin 2*pi*phase, 0, -cos 2*pi*phase) in viewer coordinates (z towards the viewer).

Edges (limb and terminator) are soft ramps one pixel wide, sampled 3x3 per pixel, so the
image is a continuous function of every factor: a small phase step gives a small change.
"""

from __future__ import annotations

import numpy as np

SUPERSAMPLE = 3
DEFAULT_SIZE = 28
N_TRAIN, N_TEST = 4000, 1000  # the moons dataset's default split sizes
RADIUS_FRACTION = 0.38  # disc radius as a fraction of the image side

# Phase bands of the regimes (fractions of a cycle).
HALF_MOON_PHASES = (0.25, 0.75)
GAP_HALF_WIDTH = 0.1  # `gap` drops phases within this of a half moon
REGIMES = {  # which phases a training split may hold; the CLI, LabConfig and the pages read this
    "full": "every phase",
    "gap": "no phase near a half moon",
    "sparse": "crescents and full moons only",
}
CRESCENT_BANDS = ((0.06, 0.14), (0.86, 0.94))  # `sparse` keeps these ...
FULL_BAND = (0.46, 0.54)  # ... and this
# The tutorial's two moons, from a crescent to the full moon (the middles of their bands: 0.1, 0.5).
# Every page, the tour and the lab start their paths here: both are in every regime's training split.
CRESCENT, FULL = sum(CRESCENT_BANDS[0]) / 2, sum(FULL_BAND) / 2


def render(
    phase: float | np.ndarray,
    size: int = DEFAULT_SIZE,
    scale: float | np.ndarray = 1.0,
    dx: float | np.ndarray = 0.0,
    dy: float | np.ndarray = 0.0,
) -> np.ndarray:
    """Moon images in [0, 1], float32: shape (size, size) for a scalar phase, else (N, size, size).

    scale multiplies the disc radius; dx, dy shift the centre in pixels (nuisance factors).
    """
    scalar = np.ndim(phase) == 0
    phase, scale, dx, dy = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in (phase, scale, dx, dy))
    )
    n = phase.shape[0]
    out = np.empty((n, size, size), dtype=np.float32)
    # Chunks keep the (chunk, S, S) float64 working arrays near 16 MB each, whatever n is.
    chunk = max(1, 2**21 // (size * SUPERSAMPLE) ** 2)
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        out[part] = _render(phase[part], size, scale[part], dx[part], dy[part])
    return out[0] if scalar else out


def _render(phase: np.ndarray, size: int, scale: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """(N,) factors -> (N, size, size) images; memory grows with N: render() calls it in chunks."""
    n = phase.shape[0]
    if n > 1 and all((a == a[0]).all() for a in (scale, dx, dy)):
        scale, dx, dy = scale[:1], dx[:1], dy[:1]  # one disc for all (no jitter): its geometry once, (1, S, S)
    # Sub-pixel sample positions in pixel units, centred on the image: (S,) with S = size * SUPERSAMPLE.
    s = (np.arange(size * SUPERSAMPLE) + 0.5) / SUPERSAMPLE - size / 2
    px = s[None, None, :] - dx[:, None, None]  # (N, 1, S)
    py = s[None, :, None] - dy[:, None, None]  # (N, S, 1)
    radius = (RADIUS_FRACTION * size * scale)[:, None, None]  # (N, 1, 1)

    rho = np.sqrt(px**2 + py**2)
    disc = np.clip(0.5 + (radius - rho), 0.0, 1.0)  # soft limb, one pixel wide
    depth = np.sqrt(np.clip(radius**2 - px**2 - py**2, 0.0, None))
    angle = 2 * np.pi * phase[:, None, None]
    # facing = px sin(angle) - depth cos(angle), > 0 where the sun shines; then the soft terminator,
    # about one pixel wide, clip(0.5 + facing, 0, 1), and fine = disc * lit: in place, one (N, S, S) array.
    fine = depth * np.cos(angle)
    np.subtract(px * np.sin(angle), fine, out=fine)
    np.add(0.5, fine, out=fine)
    np.clip(fine, 0.0, 1.0, out=fine)
    np.multiply(disc, fine, out=fine)  # (N, S, S)
    return fine.reshape(n, size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(2, 4))


def in_training_regime(phase: np.ndarray, regime: str) -> np.ndarray:
    """Boolean mask: which phases a training split of this regime may contain."""
    phase = np.asarray(phase) % 1.0
    if regime == "full":
        return np.ones(phase.shape, dtype=bool)
    if regime == "gap":
        return np.all([circular_distance(phase, h) >= GAP_HALF_WIDTH for h in HALF_MOON_PHASES], axis=0)
    if regime == "sparse":
        bands = (*CRESCENT_BANDS, FULL_BAND)
        return np.any([(phase >= lo) & (phase <= hi) for lo, hi in bands], axis=0)
    raise ValueError(f"unknown moons regime {regime!r}")


def sample_training_phases(n: int, regime: str, rng: np.random.Generator) -> np.ndarray:
    """n phases drawn uniformly from the regime's allowed set (rejection sampling)."""
    if regime == "sparse":
        bands = (*CRESCENT_BANDS, FULL_BAND)
        widths = np.array([hi - lo for lo, hi in bands])
        which = rng.choice(len(bands), size=n, p=widths / widths.sum())
        lows = np.array([lo for lo, _ in bands])[which]
        return lows + rng.random(n) * widths[which]
    out = np.empty(0)
    while out.size < n:
        draw = rng.random(2 * n)
        out = np.concatenate([out, draw[in_training_regime(draw, regime)]])
    return out[:n]


def stratified_phases(n: int, rng: np.random.Generator) -> np.ndarray:
    """n phases covering the whole cycle evenly: one uniform draw in each of n equal bins."""
    return (np.arange(n) + rng.random(n)) / n


def nearest_phase_index(phases: np.ndarray, target: float) -> int:
    """The index of the phase closest to target on the cycle."""
    return int(np.argmin(circular_distance(phases, target)))


def circular_distance(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """Distance between phases on the cycle, in [0, 0.5]."""
    d = np.abs(np.asarray(a) - np.asarray(b)) % 1.0
    return np.minimum(d, 1.0 - d)


# --- "is a real moon of phase p", in phase units ---------------------------------------------------

PHASE_TOLERANCE = 0.01  # a decode counts as a real moon of phase p if it is no further from render(p) ...
# ... than the renders at p +- PHASE_TOLERANCE are. Near a half moon that is about 0.005 MSE; near a new
# moon 0.0003, below an all-black image's 0.0004, so a blank decode is not a real new moon.
HALF_MOON_BAND = 0.05  # recovered phases within this of 0.25 or 0.75 are half moons (0.2-0.3, 0.7-0.8)


def phase_neighbourhood(
    phase: np.ndarray,
    size: int = DEFAULT_SIZE,
    scale: float | np.ndarray = 1.0,
    dx: float | np.ndarray = 0.0,
    dy: float | np.ndarray = 0.0,
    delta: float = PHASE_TOLERANCE,
    chunk: int = 2000,
) -> np.ndarray:
    """Per phase (N,): mean squared pixel error between render(p) and the renders at p +- delta.

    The distance one phase step of size delta moves the image: large at a half moon (the terminator
    sweeps the disc), small near new and full moon (it slides along the limb).
    """
    phase, scale, dx, dy = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in (phase, scale, dx, dy))
    )
    out = []
    for s in range(0, len(phase), chunk):
        p, k, x, y = (a[s : s + chunk] for a in (phase, scale, dx, dy))
        centre = render(p, size, k, x, y)
        steps = [((render(p + sign * delta, size, k, x, y) - centre) ** 2).mean(axis=(1, 2)) for sign in (-1, 1)]
        out.append((steps[0] + steps[1]) / 2)
    return np.concatenate(out).astype(np.float32)


def near_half_moon(phase: np.ndarray, band: float = HALF_MOON_BAND) -> np.ndarray:
    """Boolean mask: phases within band of a half moon (0.25 or 0.75) on the cycle."""
    return np.min([circular_distance(phase, h) for h in HALF_MOON_PHASES], axis=0) <= band
