"""Latent-space maths over the one model interface (encode/decode), as numpy in, numpy out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from training.geometry import padded_bounds
from training.models import Autoencoder
from training.sampling import fit_gaussian, gaussian_codes

BATCH = 2048
MAX_SLIDERS = 8  # latent dimensions given a slider; larger codes show their most active ones


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


def split_codes(model, split) -> Codes:
    """A split's codes: the model's encoder on its images, or the codes an embeddings set was given
    (training/embeddings.py: its one table is both splits)."""
    table = getattr(model, "table", None)
    return Codes(table, None) if table is not None else encode(model, split.x)


def nearest_codes(codes: np.ndarray, index: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k items whose codes lie nearest item index's (Euclidean, in the full latent space; the item
    itself left out): indices and distances, nearest first."""
    dist = np.sqrt(((codes.astype(np.float64) - codes[index]) ** 2).sum(axis=1))
    dist[index] = np.inf
    k = min(k, len(codes) - 1)
    order = np.argpartition(dist, k - 1)[:k] if k < len(codes) - 1 else np.arange(len(codes))[dist < np.inf]
    order = order[np.argsort(dist[order], kind="stable")]
    return order, dist[order]


@torch.no_grad()
def decode(model: Autoencoder, z: np.ndarray) -> np.ndarray:
    """(N, D) codes -> (N, C, H, W) images in [0, 1]."""
    z = np.atleast_2d(np.asarray(z, dtype=np.float32))
    out = [model.decode(torch.from_numpy(z[s : s + BATCH])).numpy() for s in range(0, len(z), BATCH)]
    return np.concatenate(out)


def prior_codes(latent_dim: int, n: int, seed: int, fitted: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """n codes from N(0, I), or from a fitted Gaussian (mean, cov) when given."""
    return gaussian_codes(n, latent_dim, np.random.default_rng(seed), fitted).astype(np.float32)


def format_code(values, limit: int = MAX_SLIDERS) -> str:
    """'0.12, -1.30, …': the first limit values of a code, two decimals, an ellipsis if cut."""
    values = list(values)
    text = ", ".join(f"{float(v):.2f}" for v in values[:limit])
    return text + (" …" if len(values) > limit else "")


def code_param(z: np.ndarray) -> str:
    """A code as URL text: comma-separated, four decimals."""
    return ",".join(f"{float(v):.4f}" for v in z)


def parse_code(text: str | None, dim: int) -> np.ndarray | None:
    """(dim,) code from comma-separated text, or None when it is not dim finite numbers."""
    try:
        values = np.array([float(v) for v in (text or "").split(",")])
    except ValueError:
        return None
    return values if values.shape == (dim,) and np.isfinite(values).all() else None


def slider_ranges(codes: Codes, variational: bool, margin: float = 0.1) -> np.ndarray:
    """(D, 2) slider bounds: the prior's +-3 sigma for a VAE; the codes' range plus a margin for an AE."""
    d = codes.mean.shape[1]
    if variational:
        return np.tile([-3.0, 3.0], (d, 1))
    return np.stack(padded_bounds(codes.mean, margin, min_extent=1e-3), axis=1)


def slider_setup(codes: Codes | None, variational: bool, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(D, 2) slider bounds and the dimensions given sliders; with no codes (a decoder without its
    encoder) the prior's +-3 sigma and the first MAX_SLIDERS dimensions."""
    if codes is None:
        return np.tile([-3.0, 3.0], (dim, 1)), np.arange(min(dim, MAX_SLIDERS))
    return slider_ranges(codes, variational), most_active_dims(codes)


def most_active_dims(codes: Codes, k: int = MAX_SLIDERS) -> np.ndarray:
    """Indices of the k dimensions whose codes vary most across the data, in index order."""
    variance = codes.mean.var(0)
    return np.sort(np.argsort(-variance, kind="stable")[:k])


def traversal_values(codes: Codes, dim: int, n: int, variational: bool) -> np.ndarray:
    """n values along one dimension: Gaussian inverse CDF for a VAE, the codes' quantiles for an AE."""
    q = np.linspace(0.05, 0.95, n)
    if variational:
        from scipy.stats import norm  # seconds to import: not on the first page

        return norm.ppf(q)
    return np.quantile(codes.mean[:, dim], q)


def traversal_grid(base: np.ndarray, dims: tuple[int, int], rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Codes of a grid through base, varying dims[0] down the rows, dims[1] across: (R*C, D)."""
    grid = np.repeat(base[None], len(rows) * len(cols), axis=0)
    grid[:, dims[0]] = np.repeat(rows, len(cols))
    grid[:, dims[1]] = np.tile(cols, len(rows))
    return grid


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


def class_item(labels: np.ndarray, label: int, nth: int = 0) -> int | None:
    """The nth item (wrapping) with this label, or None when there is none."""
    where = np.flatnonzero(labels == label)
    return int(where[nth % len(where)]) if len(where) else None


@dataclass
class HoleGrid:
    """A grid of codes over a plane of the latent space, and where things sit on that plane."""

    codes: np.ndarray  # (n*n, D), row-major: rows follow ys, columns xs
    xs: np.ndarray  # (n,) plane coordinates of the columns
    ys: np.ndarray  # (n,)
    axis_titles: tuple[str, str]


def hole_grid(
    codes: np.ndarray, a: np.ndarray, b: np.ndarray, n: int = 64, margin: float = 0.1, seed: int = 0
) -> HoleGrid:
    """2-D codes: the plane itself, over the codes' extent plus a margin. Larger codes: the plane
    through a and b (a at u = -1, b at u = +1) and a random orthogonal direction v."""
    from training.geometry import plane_through

    if codes.shape[1] == 2:
        lo, hi = padded_bounds(codes, margin)
        return HoleGrid(
            plane_grid(lo, hi, n).astype(np.float32),
            np.linspace(lo[0], hi[0], n),
            np.linspace(lo[1], hi[1], n),
            ("z0", "z1"),
        )
    origin, e1, e2 = plane_through(a, b, seed)
    u = np.linspace(-2, 2, n)
    uv = plane_grid(np.array([-2.0, -2.0]), np.array([2.0, 2.0]), n)
    grid = origin[None] + uv[:, :1] * e1[None] + uv[:, 1:] * e2[None]
    return HoleGrid(grid.astype(np.float32), u, u, ("u (A at −1, B at +1)", "v (orthogonal)"))


def plane_coordinates(points: np.ndarray, a: np.ndarray, b: np.ndarray, seed: int = 0) -> np.ndarray:
    """Where codes lie on hole_grid's plane: identity for 2-D, else least-squares (u, v)."""
    from training.geometry import plane_through

    if points.shape[1] == 2:
        return points
    origin, e1, e2 = plane_through(a, b, seed)
    basis = np.stack([e1, e2], axis=1)  # (D, 2)
    uv, *_ = np.linalg.lstsq(basis, (points - origin).T, rcond=None)
    return uv.T


@dataclass
class ManifoldGrid:
    """An n x n grid over a 2-D latent plane, laid out as the image shows it."""

    codes: np.ndarray  # (n*n, 2) row-major: row r has z1 = ys[r] (top row highest), column c has z0 = xs[c]
    xs: np.ndarray  # (n,) z0 of the columns, increasing
    ys: np.ndarray  # (n,) z1 of the rows, decreasing (y up, as on the latent map)
    source: str  # where the quantiles come from


def manifold_grid(n: int, fitted: tuple[np.ndarray, np.ndarray] | None = None) -> ManifoldGrid:
    """Kingma and Welling's figure: n evenly spaced points u in (0, 1) per axis, z = Phi^-1(u).

    fitted None: the VAE's prior N(0, I). fitted (mean, cov): an AE's stand-in prior, a Gaussian
    fitted to its training codes; each axis runs over that Gaussian's marginal quantiles.
    """
    from scipy.stats import norm  # seconds to import: only where it is used

    u = (np.arange(n) + 0.5) / n  # midpoints: evenly spaced, never 0 or 1 (Phi^-1 would be infinite)
    q = norm.ppf(u)  # (n,)
    if fitted is None:
        mean, std, source = np.zeros(2), np.ones(2), "N(0, I) quantiles"
    else:
        mean, std, source = fitted[0], np.sqrt(np.diag(fitted[1])), "fitted-Gaussian quantiles"
    xs, ys = mean[0] + std[0] * q, (mean[1] + std[1] * q)[::-1]
    codes = np.stack([np.tile(xs, n), np.repeat(ys, n)], axis=1).astype(np.float32)
    return ManifoldGrid(codes, xs, ys, source)


def model_manifold_grid(model: Autoencoder, n: int, train_codes: np.ndarray | None = None) -> ManifoldGrid:
    """The grid for a 2-D model: the prior's quantiles for a VAE, a fitted Gaussian's for an AE."""
    if model.latent_dim != 2:
        raise ValueError(f"a manifold grid needs a 2-D latent space, got {model.latent_dim}-D")
    if model.is_variational:
        return manifold_grid(n)
    if train_codes is None:
        raise ValueError("an AE's grid needs its training codes (to fit the Gaussian)")
    return manifold_grid(n, fit_gaussian(train_codes))


def decoder_line(model: Autoencoder, lo: float, hi: float, n: int = 41) -> tuple[np.ndarray, np.ndarray]:
    """A 1-D decoder's whole line: n codes evenly from lo to hi, (n,), and their decodes (n, C, H, W)."""
    if model.latent_dim != 1:
        raise ValueError(f"decoder_line needs a 1-D latent, this model has {model.latent_dim}")
    codes = np.linspace(lo, hi, n)
    return codes, decode(model, codes[:, None])
