"""Codes to decode as a model's samples: the VAE's prior N(0, I), or for an AE (which has no prior)
a Gaussian fitted to its codes."""

from __future__ import annotations

import numpy as np

from .errors import TrainingError


def fit_gaussian(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of codes: the AE's stand-in for a prior."""
    d = codes.shape[1]
    finite = int(np.isfinite(codes).all(axis=1).sum())
    if len(codes) < 2 or finite < len(codes):  # np.cov gives NaN, and sampling fails in an SVD
        raise TrainingError(
            f"cannot fit a Gaussian to {len(codes)} training codes ({finite} of them finite): "
            "the AE's samples need at least 2 finite codes",
            key="err_sample_gaussian",
            n=len(codes),
            finite=finite,
        )
    return codes.mean(0), np.cov(codes, rowvar=False).reshape(d, d) + 1e-6 * np.eye(d)


def gaussian_codes(
    n: int, latent_dim: int, rng: np.random.Generator, fitted: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """(n, D) float64 codes from N(0, I), or from a fitted Gaussian (mean, cov) when given."""
    if fitted is None:
        return rng.standard_normal((n, latent_dim))
    return rng.multivariate_normal(*fitted, size=n)


def prior_codes(model, train_codes: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, str]:
    """(n, D) codes to decode as the model's samples, and where they came from: a VAE's prior
    N(0, I); for an AE, which has no prior, a Gaussian fitted to its training codes (N, D)."""
    rng = np.random.default_rng(seed)
    if model.is_variational:
        return gaussian_codes(n, model.latent_dim, rng), "N(0, I)"
    return gaussian_codes(n, model.latent_dim, rng, fit_gaussian(train_codes)), "fitted Gaussian"
