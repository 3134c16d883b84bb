"""Exact inference for 2-D latents: every term of log p(x) = ELBO + KL(q(z|x) || p(z|x)), measured.

With a 2-D code, log p(x) = log ∫ p(x|z) p(z) dz is a 2-D integral that a grid computes to a
thousandth of a nat. So the true posterior p(z|x) can be set beside the encoder's Gaussian q(z|x),
and the gap between them split (Cremer, Li and Duvenaud 2018, "Inference Suboptimality in
Variational Autoencoders") into
    approximation gap  log p(x) - ELBO(q*)       (no Gaussian could do better)
    amortisation gap   ELBO(q*) - ELBO(q)        (the encoder's guess, against the best Gaussian
                                                  q* optimised for this image alone)

It lives in training/, not explorer/: `python -m training eval --exact` needs it and training/
never imports explorer/. The app imports it from here. Everything works through the model's
interface (encode(x) -> Posterior, decode_logits(z)) and a likelihood -log p(x|z) per image (by
default the model's own, from losses.reconstruction_nll), so every likelihood works alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from .errors import LatentExplorerError
from .losses import reconstruction_nll
from .models import family_q, prior_log_density, sample_with_log_prob
from .posteriors import Flow, Free, Gaussian, free_for, make_flow

NLL = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits, x), both (N, C, H, W) -> (N,)
CHUNK = 1 << 20  # decoded pixel values per chunk (4 MB of float32): bounds memory; the likelihood's
# temporaries ran 3x faster at this size than at 16 MB (reused by the allocator, not mapped afresh)
IWAE_KS = (1, 5, 50, 500, 5000)
# IWAE-k is the mean of at least this many disjoint groups of k draws: its standard error is their spread
# (one group of 5,000 gave IWAE-5000 no error bar, and its noise reached 0.5-0.7 nats on single images)
IWAE_GROUPS = 4
TOL = 1e-3  # nats: target accuracy of the quadrature
# q* (page and `eval --exact`): Newton steps until the next would gain under Q_TOL nats, at most Q_STEPS tries
Q_STEPS, Q_TOL = 100, 1e-4


def model_nll(model) -> NLL:
    """-log p(x|z) per image with the likelihood the model was trained with."""
    config = model.config
    return lambda logits, x: reconstruction_nll(logits, x, config.likelihood, config.gaussian_sigma)


def spread_index(total: int, n: int) -> torch.Tensor:
    """n indices evenly spaced through range(total) (all of them if there are no more than n)."""
    if total <= n:
        return torch.arange(total)
    return torch.linspace(0, total - 1, n, dtype=torch.float64).round().long()


def spread(x: torch.Tensor, n: int) -> torch.Tensor:
    """n images evenly spaced through x: a split may be sorted (moons by phase), so the first n
    would not stand for the whole."""
    return x[spread_index(len(x), n)]


def require_2d(model) -> None:
    if model.latent_dim != 2:
        raise LatentExplorerError(
            f"exact inference integrates over a 2-D latent by quadrature; this model's latent is "
            f"{model.latent_dim}-D (use IWAE with many samples there)",
            key="err_exact_exact_inference_integrates",
            latent_dim=model.latent_dim,
        )


Q = Gaussian | Flow  # any posterior family's q (training/posteriors.py)


@torch.no_grad()
def encoder_q(model, x: torch.Tensor) -> Q:
    """The encoder's q(z|x) in the model's own family (diag, full or flow)."""
    posterior = model.encode(x)
    if posterior.std is None:
        raise LatentExplorerError(
            "exact inference compares q(z|x) with p(z|x): it needs a VAE, not an AE",
            key="err_exact_exact_inference_compares",
        )
    return family_q(posterior)


def correlation(cov: torch.Tensor) -> torch.Tensor:
    """(B, 2, 2) covariances -> (B,) correlation of z0 and z1."""
    return cov[:, 0, 1] / (cov[:, 0, 0] * cov[:, 1, 1]).sqrt()


# --- log p(x|z) on many codes per image ---------------------------------------------------------


def _log_lik_rows(model, nll: NLL, x_rows: torch.Tensor, z_rows: torch.Tensor) -> torch.Tensor:
    return -nll(model.decode_logits(z_rows), x_rows)


def log_likelihoods(model, x: torch.Tensor, z: torch.Tensor, nll: NLL | None = None) -> torch.Tensor:
    """log p(x_b | z): x (B, C, H, W); z (B, M, D) per image, or (M, D) shared by all -> (B, M).

    In chunks, so a 200-image batch on 10,000 codes each does not hold 1.6e9 pixels at once.
    """
    nll = nll or model_nll(model)
    b, p = len(x), x[0].numel()
    rows = max(1, CHUNK // p)
    if z.dim() == 2:  # one grid for every image: decode it once
        parts = []
        for start in range(0, len(z), rows):
            logits = model.decode_logits(z[start : start + rows])  # (m, C, H, W)
            parts.append(torch.stack([-nll(logits, x[i].expand_as(logits)) for i in range(b)]))
        return torch.cat(parts, dim=1)
    m = z.shape[1]
    flat = z.reshape(b * m, -1)
    image = torch.arange(b * m) // m  # which image each code belongs to
    # written into one tensor made up front: a small result kept per chunk sat above each chunk's freed
    # temporaries on glibc's heap, which then could not shrink (a re-measure of moons-sparse-1d reached
    # 12.7 GB resident; 200 images x 4,000 draws: 2.96 GB that way, 0.60 GB this way)
    chunks = range(0, b * m, rows)
    if torch.is_grad_enabled():  # a sampler's gradients flow through torch.cat, not an in-place copy
        return torch.cat(
            [_log_lik_rows(model, nll, x[image[s : s + rows]], flat[s : s + rows]) for s in chunks]
        ).reshape(b, m)
    out = torch.empty(b * m, dtype=z.dtype)
    for s in chunks:
        out[s : s + rows] = _log_lik_rows(model, nll, x[image[s : s + rows]], flat[s : s + rows])
    return out.reshape(b, m)


# --- quadrature ---------------------------------------------------------------------------------


@dataclass
class Quadrature:
    """log p(x) and the true posterior of each image, from its final grids."""

    log_px: torch.Tensor  # (B,) log ∫ p(x|z) p(z) dz
    error: torch.Tensor  # (B,) |each grid's estimate - its every-other-point grid's|, summed by mass, plus
    # the coarse grid's mass in modes too small to refine: an error scale
    mean: torch.Tensor  # (B, 2) posterior mean
    cov: torch.Tensor  # (B, 2, 2) posterior covariance
    modes: torch.Tensor  # (B,) modes refined (each on its own fine grid)
    rounds: int  # refinements done

    @property
    def std(self) -> torch.Tensor:
        return self.cov.diagonal(dim1=-2, dim2=-1).sqrt()

    @property
    def corr(self) -> torch.Tensor:
        return correlation(self.cov)


def _moments(z: torch.Tensor, log_w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted mean (B, D) and covariance (B, D, D) of points z (B or 1, M, D) under softmax(log_w)."""
    w = torch.softmax(log_w.double(), dim=1)  # (B, M)
    z = z.double().expand(len(w), -1, -1)
    mean = torch.einsum("bm,bmd->bd", w, z)
    centred = z - mean[:, None]
    cov = torch.einsum("bm,bmd,bme->bde", w, centred, centred)
    return mean.float(), cov.float()


def _square_grid(n: int, half_width: float) -> tuple[torch.Tensor, float]:
    axis = torch.linspace(-half_width, half_width, n, dtype=torch.float64)
    u = torch.cartesian_prod(axis, axis)  # (n*n, 2), row-major: index i*n + j is (axis[i], axis[j])
    return u, float(axis[1] - axis[0])


def _every_other(log_joint: torch.Tensor, n: int) -> torch.Tensor:
    """The (B, n*n) values on the grid with every other point dropped in each direction."""
    return log_joint.reshape(-1, n, n)[:, ::2, ::2].reshape(len(log_joint), -1)


MODE_MASS = 1e-5  # a coarse-grid basin holding less of the mass than this is not refined (its mass goes to the error)
REFINE_CHUNK = 1 << 20  # (part, grid point, mode) triples refined at once: bounds the refinement's memory
MAX_MODES = 8  # more basins than this (a thin ridge between grid points shows as a row of peaks): the lightest
# go unrefined, their mass to the error


def _basins(log_joint: torch.Tensor, n: int) -> torch.Tensor:
    """The local maximum each point of an n x n grid climbs to by steepest ascent: (B, n*n) indices.

    Each point points at the largest of its 3 x 3 neighbourhood (ties to the earliest, so no cycles);
    pointer jumping follows the chains to their tops in log2(n*n) steps."""
    b = len(log_joint)
    padded = torch.nn.functional.pad(log_joint.reshape(b, 1, n, n), (1, 1, 1, 1), value=-math.inf)
    patches = torch.nn.functional.unfold(padded, 3)  # (B, 9, n*n)
    best = patches.argmax(1)  # (B, n*n): 0..8 within the 3 x 3 patch
    best = best.masked_fill(patches.max(1).values == -math.inf, 4)  # nothing around: stay (a -inf basin)
    here = torch.arange(n * n)
    up = (here // n + best // 3 - 1) * n + here % n + best % 3 - 1
    for _ in range(math.ceil(math.log2(n * n)) + 1):
        up = torch.gather(up, 1, up)
    return up


def _modes(grid: torch.Tensor, log_joint: torch.Tensor, n: int, h: float) -> list[tuple[list[tuple], float]]:
    """Per image, the basins of the coarse grid's local maxima as (log mass, mean (2,), cov (2, 2)),
    heaviest first, and the log fraction of the mass left in basins too light (or too many) to refine.

    Every basin is refined on its own, however shallow the pass between two: merging basins whose pass
    lay within 1-3 nats of the lower peak left digits-2d test items 0.002-0.018 nats off a 1200^2 grid."""
    lj = log_joint.double()
    total = torch.logsumexp(lj, 1)
    # the far tail (under e^-30 of the peak) holds no mode worth refining: a flat plateau there would
    # otherwise break into thousands of one-point basins
    lj = lj.masked_fill(lj < lj.max(1, keepdim=True).values - 30, -math.inf)
    top = _basins(lj, n)  # (B, n*n)
    out = []
    for b in range(len(lj)):
        # each basin's log mass at once (a per-basin loop over thousands of one-point -inf basins of the
        # masked tail took most of the quadrature's time); only the heavy ones get their moments
        finite = lj[b].isfinite()
        peaks, label = torch.unique(top[b][finite], return_inverse=True)
        values = lj[b][finite]
        peak_max = torch.full((len(peaks),), -math.inf, dtype=values.dtype).scatter_reduce(0, label, values, "amax")
        summed = torch.zeros(len(peaks), dtype=values.dtype).index_add_(0, label, (values - peak_max[label]).exp())
        masses = peak_max + summed.log()
        heavy = masses - total[b] >= math.log(MODE_MASS)
        light = list(masses[~heavy])
        points = grid[finite]
        found = []
        for k in heavy.nonzero()[:, 0].tolist():
            inside = label == k
            mean, cov = _moments(points[inside][None], values[inside][None])
            found.append((float(masses[k]), mean[0], cov[0] + (h / 2) ** 2 * torch.eye(2)))
        found.sort(key=lambda m: -m[0])
        light += [torch.tensor(m[0], dtype=torch.float64) for m in found[MAX_MODES:]]
        left = float(torch.logsumexp(torch.stack(light), 0) - total[b]) if light else -math.inf
        out.append((found[:MAX_MODES], left))
    return out


def _log_gauss(z: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """log N(z; mean, cov): z (C, M, 2), mean (C, K, 2), cov (C, K, 2, 2) -> (C, M, K)."""
    scale = torch.linalg.cholesky(cov.double())  # (C, K, 2, 2)
    diff = (z.double()[:, :, None] - mean.double()[:, None]).unsqueeze(-1)  # (C, M, K, 2, 1)
    solved = torch.linalg.solve_triangular(scale[:, None].expand(-1, z.shape[1], -1, -1, -1), diff, upper=False)
    log_det = scale.diagonal(dim1=-2, dim2=-1).log().sum(-1)  # (C, K)
    return -0.5 * solved.pow(2).sum((-1, -2)) - log_det[:, None] - math.log(2 * math.pi)


@torch.no_grad()
def exact_log_px(
    model,
    x: torch.Tensor,
    *,
    nll: NLL | None = None,
    q: Gaussian | None = None,
    box: float = 6.0,
    coarse: int = 64,
    fine: int = 48,
    max_fine: int = 384,
    radius: float = 6.0,
    tol: float = TOL,
    max_rounds: int = 8,
) -> Quadrature:
    """log p(x) per image by adaptive quadrature (trapezoid rule, which for smooth integrands that
    vanish at the box's edge converges faster than any power of the spacing).

    1. Coarse: one coarse x coarse grid over [-box, box]^2 (widened to hold q's +/- 5 sigma), shared
       by the batch, finds where each image's posterior mass is, and its modes (_modes): a posterior
       may have several (digits-2d test item 167: a second one 1.6 away, 1.8 % of the mass).
    2. Refine each mode: the integrand is split smoothly between the modes, p(x|z) p(z) pi_k(z) with
       pi_k the responsibilities of Gaussians (twice each mode's coarse width), so the parts sum to the
       whole; each part gets a fine x fine grid along its own principal axes, mean +/- radius sd, so a
       thin, tilted ridge (correlation -0.98) is resolved as well as a round blob. Repeat with the new
       moments until the part moves less than tol; where the grid with every other point dropped
       disagrees by more than tol, the next grid is twice as fine (up to max_fine points a side).
    """
    require_2d(model)
    nll = nll or model_nll(model)
    if q is not None:
        box = max(box, float((q.mean.abs() + 5 * q.std).max()))
    grid, h = _square_grid(coarse, box)
    log_joint = log_likelihoods(model, x, grid.float(), nll) + prior_log_density(grid.float())[None]
    found = _modes(grid, log_joint, coarse, h)
    if not all(ms for ms, _ in found):  # log p(x|z) p(z) nowhere finite: no mode to integrate around
        raise LatentExplorerError(
            "the posterior p(z|x) is not finite anywhere on the grid (the decoder's values are not finite "
            "or out of range), so log p(x) cannot be computed; choose another pair",
            key="err_posterior_not_finite",
        )
    b = len(x)
    # one row per (image, mode): the part of the integrand that mode owns
    owner = torch.tensor([i for i, (ms, _) in enumerate(found) for _ in ms])  # (C,)
    k_max = max(len(ms) for ms, _ in found)
    part_mean = torch.zeros(b, k_max, 2)
    part_cov = torch.eye(2).repeat(b, k_max, 1, 1)
    part_log_w = torch.full((b, k_max), -math.inf, dtype=torch.float64)
    for i, (ms, _) in enumerate(found):
        for k, (mass, m, c) in enumerate(ms):
            part_mean[i, k], part_cov[i, k], part_log_w[i, k] = m, 4 * c, 0.0
    mean = torch.stack([m for ms, _ in found for _, m, _ in ms])  # (C, 2)
    cov = torch.stack([c for ms, _ in found for _, _, c in ms])  # (C, 2, 2)
    which = torch.tensor([k for ms, _ in found for k in range(len(ms))])  # (C,) mode index within its image
    n_parts = len(owner)
    log_part = torch.stack([torch.tensor(mass, dtype=torch.float64) for ms, _ in found for mass, _, _ in ms])
    error = torch.full((n_parts,), math.inf, dtype=torch.float64)
    moved = torch.full((n_parts,), math.inf, dtype=torch.float64)
    n, rounds = fine, 0
    active = torch.ones(n_parts, dtype=torch.bool)
    while active.any() and rounds < max_rounds:
        rounds += 1
        u, hu = _square_grid(n, radius)
        # a few parts at a time: c parts x n^2 points x k_max modes of float64 (and the Cholesky factors
        # expanded per point) for every part at once reached 20 GB on a barely trained 28x28 model
        per_chunk = max(1, REFINE_CHUNK // (n * n * k_max))
        for idx in active.nonzero()[:, 0].split(per_chunk):
            scale = torch.linalg.cholesky(cov[idx].double() + 1e-12 * torch.eye(2, dtype=torch.float64))  # (c, 2, 2)
            z_a = (mean[idx].double()[:, None] + u @ scale.transpose(-1, -2)).float()  # (c, n*n, 2)
            lj_a = log_likelihoods(model, x[owner[idx]], z_a, nll) + prior_log_density(z_a)
            if k_max > 1:  # log pi_k(z): this mode's share
                img = owner[idx]
                log_g = _log_gauss(z_a, part_mean[img], part_cov[img]) + part_log_w[img][:, None]  # (c, M, K)
                share = log_g.gather(2, which[idx][:, None, None].expand(-1, z_a.shape[1], 1))[..., 0]
                lj_a = lj_a + (share - torch.logsumexp(log_g, 2)).float()
            log_cell = 2 * math.log(hu) + scale.diagonal(dim1=-2, dim2=-1).log().sum(-1)  # (c,)
            new = torch.logsumexp(lj_a.double(), 1) + log_cell
            half = torch.logsumexp(_every_other(lj_a, n).double(), 1) + log_cell + 2 * math.log(2)
            error[idx], moved[idx] = (half - new).abs(), (new - log_part[idx]).abs()
            log_part[idx] = new
            mean[idx], cov[idx] = _moments(z_a, lj_a)
        active = (error >= tol) | (moved >= tol) | (rounds == 1)
        if bool((error[active] >= tol).any()) and n < max_fine:
            n *= 2  # not resolved: a finer grid (where moments alone moved, the same size re-centred)
    # per image: the parts' sum; moments of the mixture of the parts
    log_px = torch.full((b,), -math.inf, dtype=torch.float64).scatter_reduce_(0, owner, log_part, "amax")
    weight = (log_part - log_px[owner]).exp()  # (C,) each part's share of its image's mass
    log_px = log_px + torch.zeros(b, dtype=torch.float64).index_add_(0, owner, weight).log()
    share = (log_part - log_px[owner]).exp()
    post_mean = torch.zeros(b, 2, dtype=torch.float64).index_add_(0, owner, share[:, None] * mean.double())
    spread_ = mean.double() - post_mean[owner]
    post_cov = torch.zeros(b, 2, 2, dtype=torch.float64).index_add_(
        0, owner, share[:, None, None] * (cov.double() + spread_[:, :, None] * spread_[:, None, :])
    )
    left = torch.tensor([lf for _, lf in found], dtype=torch.float64).exp()  # mass fraction not refined
    total_error = torch.zeros(b, dtype=torch.float64).index_add_(0, owner, share * error) + left
    modes = torch.zeros(b, dtype=torch.long).index_add_(0, owner, torch.ones_like(owner))
    return Quadrature(log_px.float(), total_error.float(), post_mean.float(), post_cov.float(), modes, rounds)


@torch.no_grad()
def log_posterior_grid(
    model,
    x: torch.Tensor,
    log_px: torch.Tensor,
    lo: tuple[float, float],
    hi: tuple[float, float],
    n: int = 120,
    nll: NLL | None = None,
) -> torch.Tensor:
    """log p(z|x) = log p(x|z) + log p(z) - log p(x) on an axis-aligned n x n grid over the box
    lo..hi, for one image x (1, C, H, W): (n, n), rows along z1, columns along z0 (as a heat map)."""
    z0 = torch.linspace(lo[0], hi[0], n)
    z1 = torch.linspace(lo[1], hi[1], n)
    z = torch.stack(torch.meshgrid(z0, z1, indexing="xy"), -1).reshape(-1, 2)  # (n*n, 2), z0 fastest
    log_joint = log_likelihoods(model, x, z, nll) + prior_log_density(z)[None]
    return (log_joint[0] - log_px.reshape(())).reshape(n, n)


# --- Monte Carlo: the ELBO with its standard error, IWAE-k with its effective sample size -------


@dataclass
class Bounds:
    """Monte Carlo bounds of log p(x) under a q of any family, per image."""

    elbo: torch.Tensor  # (B,) E_q log p(x|z) - KL(q || p(z)), the KL in closed form where q has one
    elbo_se: torch.Tensor  # (B,) its Monte Carlo standard error
    reconstruction: torch.Tensor  # (B,) E_q log p(x|z)
    kl_prior: torch.Tensor  # (B,) KL(q || N(0, I)), closed form (a flow's: from the same draws)
    iwae: dict[int, torch.Tensor] = field(default_factory=dict)  # k -> (B,) mean IWAE-k over S/k groups
    iwae_se: dict[int, torch.Tensor] = field(default_factory=dict)  # k -> (B,) its s.e. (nan from one group)
    ess: dict[int, torch.Tensor] = field(default_factory=dict)  # k -> (B,) mean (sum w)^2 / sum w^2
    n_samples: int = 0


@torch.no_grad()
def bounds(
    model,
    x: torch.Tensor,
    q: Q,
    *,
    nll: NLL | None = None,
    n_samples: int = IWAE_GROUPS * max(IWAE_KS),
    ks: tuple[int, ...] = IWAE_KS,
    seed: int = 0,
) -> Bounds:
    """ELBO and IWAE-k (Burda et al. 2015) for each k dividing into n_samples, from one set of draws.

    IWAE-k = log (1/k) sum_i w_i, w_i = p(x|z_i) p(z_i) / q(z_i); with S draws it is averaged over
    the S/k disjoint groups of k (the same bound, less noise), its standard error the groups' spread
    over sqrt(S/k) (so n_samples = IWAE_GROUPS * k gives IWAE-k an error bar). ESS = (sum w)^2 / sum w^2 per group:
    near k when q covers the posterior, near 1 when one draw carries all the weight.
    """
    gen = torch.Generator().manual_seed(seed)
    eps = torch.randn((len(x), n_samples, q.mean.shape[-1]), generator=gen)  # (B, S, D)
    z, log_q = sample_with_log_prob(q, eps)
    log_lik = log_likelihoods(model, x, z, nll)  # (B, S)
    log_w = (log_lik + prior_log_density(z) - log_q).double()  # (B, S)
    kl = q.kl_to_prior()
    # no closed form (flow): the KL from the same draws, and the ELBO's error from the whole integrand
    integrand = log_lik if kl is not None else log_w.float()
    if kl is None:
        kl = (log_q - prior_log_density(z)).mean(1)
    out = Bounds(
        elbo=log_lik.mean(1) - kl,
        elbo_se=integrand.std(1) / math.sqrt(n_samples),
        reconstruction=log_lik.mean(1),
        kl_prior=kl,
        n_samples=n_samples,
    )
    for k in ks:
        if k > n_samples:
            continue
        groups = log_w[:, : n_samples // k * k].reshape(len(x), -1, k)  # (B, S/k, k)
        lse = torch.logsumexp(groups, -1)
        out.iwae[k] = (lse - math.log(k)).mean(1).float()
        n_groups = lse.shape[1]
        spread = lse.std(1) if n_groups > 1 else torch.full((len(x),), math.nan, dtype=lse.dtype)
        out.iwae_se[k] = (spread / math.sqrt(n_groups)).float()  # nan with one group: no spread to measure
        out.ess[k] = torch.exp(2 * lse - torch.logsumexp(2 * groups, -1)).mean(1).float()
    return out


# --- q*: the best Gaussian for one image (the E-step made exact) ---------------------------------


def gauss_hermite(n: int, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Product Gauss-Hermite rule for E f(eps), eps ~ N(0, I_d): nodes (n^d, d), weights (n^d,) summing
    to 1; exact when f is a polynomial of degree < 2n in each coordinate."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(n)
    grid = torch.cartesian_prod(*[torch.from_numpy(nodes)] * d).reshape(-1, d)
    w = torch.cartesian_prod(*[torch.from_numpy(weights)] * d).reshape(-1, d).prod(-1)
    return grid.float(), (w / w.sum()).float()


def _derivatives(objective: Callable, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-image objective (b,), gradient (b, P) and Hessian (b, P, P) by autograd: the images are
    independent, so differentiating their sum gives each its own."""
    theta = theta.detach().requires_grad_()
    f = objective(theta)
    (g,) = torch.autograd.grad(f.sum(), theta, create_graph=True)
    b, p = theta.shape
    # the P rows of the Hessian in one vectorised backward pass (P separate passes took 2.4x as long for
    # a flow's 12 parameters; identical values)
    eye = torch.eye(p).unsqueeze(1).expand(p, b, p)  # (P, b, P)
    (h,) = torch.autograd.grad(g, theta, grad_outputs=eye, is_grads_batched=True)  # (P, b, P)
    h = h.transpose(0, 1)
    return f.detach(), g.detach(), 0.5 * (h + h.transpose(1, 2))


def _trust_step(g: torch.Tensor, h: torch.Tensor, radius: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The step d of length at most radius maximising the model g.d - d.A.d / 2, A = |-h| (each
    eigenvalue by its size: saddle-free Newton, which climbs where the objective is not concave), and
    the gain the model predicts for it. Inside the radius it is the Newton step; else
    (A + mu I)^-1 g with mu found by bisection (Levenberg-Marquardt). float64: P is 4 or 5."""
    vals, vecs = torch.linalg.eigh(-h.double())
    vals = vals.abs().clamp(min=1e-9)
    along = (vecs.transpose(1, 2) @ g.double()[..., None])[..., 0]  # g in the eigenbasis
    # the bisection in numpy: 50 rounds of a few (b, P) operations, each a fifth of torch's per-call cost
    # (it was a fifth of a flow q*'s Newton time); the same float64 arithmetic
    a, v, r = along.numpy(), vals.numpy(), radius.numpy()
    fits = np.linalg.norm(a / v, axis=1) <= r  # the Newton step fits: mu = 0
    lo, hi = np.zeros_like(r), np.linalg.norm(a, axis=1) / r  # ||d(mu)|| <= ||g|| / mu
    lo = np.where(fits, hi, lo)
    for _ in range(50):  # ||d(mu)|| falls as mu grows: bisect for ||d|| = radius
        mid = (lo + hi) / 2
        short = np.linalg.norm(a / (v + mid[:, None]), axis=1) <= r
        lo, hi = np.where(short, lo, mid), np.where(short, mid, hi)
    mu = torch.from_numpy(np.where(fits, 0.0, hi))
    coef = along / (vals + mu[:, None])
    gain = (coef * along).sum(1) - 0.5 * (coef.pow(2) * vals).sum(1)
    return (vecs @ coef[..., None])[..., 0].float(), gain


def _newton(objective: Callable, theta: torch.Tensor, steps: int, tol: float) -> torch.Tensor:
    """Maximise objective(theta, images) per image from theta (b, P) by trust-region Newton steps: a
    step is taken only if the objective rises, so the result is never worse than the start. The
    region starts small (radius 0.1, Adam's first step), so the climb follows the slope out of the
    start rather than leaping to a far hill; it grows where the quadratic model predicts well and
    shrinks where it does not. An image stops once a full Newton step would gain less than tol nats,
    once its region is below float32's resolution, or after `steps` tries."""
    theta = theta.clone()
    b = len(theta)
    f, g, h = _derivatives(lambda t: objective(t, torch.arange(b)), theta)
    radius = torch.full((b,), 0.1, dtype=torch.float64)
    active = torch.ones(b, dtype=torch.bool)
    for _ in range(steps):
        active &= (_trust_step(g, h, torch.full_like(radius, math.inf))[1] >= tol) & (radius > 1e-6)
        idx = active.nonzero()[:, 0]
        if len(idx) == 0:
            break
        step, predicted = _trust_step(g[idx], h[idx], radius[idx])
        with torch.no_grad():
            gained = (objective(theta[idx] + step, idx) - f[idx]).double().nan_to_num(-math.inf)  # NaN: refused
        ratio = gained / predicted
        at_edge = step.double().norm(dim=1) > 0.9 * radius[idx]
        radius[idx] = torch.where(
            ratio < 0.25, radius[idx] / 4, torch.where((ratio > 0.75) & at_edge, radius[idx] * 2, radius[idx])
        )
        took = idx[gained > 0]
        if len(took):
            theta[took] = theta[took] + step[gained > 0]
            f[took], g[took], h[took] = _derivatives(lambda t: objective(t, took), theta[took])
    return theta


@torch.enable_grad()  # callers may sit in no_grad (the page's analysis does): Newton needs derivatives
def optimise_q(
    model,
    x: torch.Tensor,
    start: Q,
    *,
    nll: NLL | None = None,
    full_covariance: bool = False,
    family: str | None = None,
    steps: int = Q_STEPS,
    tol: float = Q_TOL,
    nodes: int = 8,
    batch: int = 64,
) -> Gaussian:
    """q*: each image's ELBO maximised within a family (posteriors.Free): over q's mean and log-std,
    and for `full` (or full_covariance) the off-diagonal of its Cholesky factor, for `flow` the flow's
    context (its layers are the model's), by trust-region Newton steps from `start` (_newton): at
    most `steps` tries, stopping once a step would gain less than tol nats. The ELBO never falls
    below start's, and the 4-5 parameters of a 2-D Gaussian make the exact Hessian cheap (autograd).
    It reaches the optimum that up to 2,000 Adam steps from q reached, in a handful of derivative passes.

    E_q log p(x|z) is taken by a Gauss-Hermite rule in q's own frame (nodes^2 points): the same
    points every step (the ultimate common random numbers), so the objective is one fixed function
    (with kinks where a ReLU decoder has them: hence the trust region), and exact wherever
    log p(x|z) is a low-degree polynomial over q's width. 64 random draws instead
    left q* measurably short of the optimum (a bias, not noise). Judge the result with fresh draws
    (bounds()), not with these nodes. nll must be twice differentiable (losses' are). family None: the
    start's own (a flow's, else diag, or full with full_covariance)."""
    if not getattr(model, "differentiable", True):  # an ONNX decoder: no gradients, q* stays the encoder's q
        return start
    nll = nll or model_nll(model)
    d = start.mean.shape[-1]
    eps, weight = gauss_hermite(nodes, d)  # (S, D), (S,)
    if family is None:
        family = "flow" if isinstance(start, Flow) else "full" if full_covariance else "diag"
    free = free_for(start, family)
    found = []
    for s in range(0, len(x), batch):
        xb = x[s : s + batch]

        def elbo(theta: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
            q = free.unpack(theta)
            z, log_q = sample_with_log_prob(q, eps.expand(len(theta), -1, -1))  # (b, S, D), (b, S)
            log_lik = _log_lik_rows(model, nll, xb[images].repeat_interleave(len(eps), 0), z.reshape(-1, d))
            log_lik = log_lik.reshape(len(images), -1)
            kl = q.kl_to_prior()
            if kl is None:  # a flow: the KL under the same nodes
                kl = (log_q - prior_log_density(z)) @ weight
            return log_lik @ weight - kl

        theta = _newton(elbo, free.pack(start.rows(slice(s, s + batch))), steps, tol)
        found.append(free.unpack(theta).detach())
    return concat(found)


# a flow q* of its own per image (fit_flow_q): Adam steps, draws per step, learning rate, and the common
# draws that choose between the fitted flow and its start. 75 steps, not 150: on 30 test images each of
# moons-sparse-2d and digits-2d, ELBO(q*) after 150 steps minus after 75 was 0.002 +/- 0.004 and
# -0.002 +/- 0.013 nats (mean, 95 %), each image within 0.14 nats (its judge's s.e. 0.03-0.04), in half the time
FLOW_FIT_STEPS, FLOW_FIT_DRAWS, FLOW_FIT_LR, FLOW_FIT_CHECK = 75, 32, 0.01, 512


@torch.enable_grad()
def fit_flow_q(
    model,
    x: torch.Tensor,
    start: Gaussian,
    *,
    nll: NLL | None = None,
    steps: int = FLOW_FIT_STEPS,
    draws: int = FLOW_FIT_DRAWS,
    lr: float = FLOW_FIT_LR,
    seed: int = 0,
) -> list[Q]:
    """Per image (x (N, C, H, W)) a flow q* of its own, so any VAE's decoder gets a flow q, not only a
    flow VAE's: a fresh flow (posteriors.make_flow without context: the identity at initialisation) on
    a full-covariance base started at `start` (the full-covariance q*), base and layers fitted together
    by Adam on the reparameterised ELBO with fresh draws each step (too many parameters for Newton).
    Of the fitted flow and `start` the one with the higher ELBO on FLOW_FIT_CHECK common draws is kept,
    so q* is never measurably worse than start; judge it on other draws (bounds()). A list: each image
    has its own layers. An ONNX decoder (no gradients): start's rows."""
    rows = [start.rows(slice(i, i + 1)) for i in range(len(x))]
    if not getattr(model, "differentiable", True):
        return rows
    nll = nll or model_nll(model)
    d = start.mean.shape[-1]
    free, context = Free("full", d), torch.zeros(1, 0)
    gen = torch.Generator().manual_seed(seed)
    found: list[Q] = []
    for i, row in enumerate(rows):
        with torch.random.fork_rng():  # the layers' hidden weights from the seed, not the global stream
            torch.manual_seed(seed + i)
            layers = make_flow(d, context=0)
        theta = free.pack(row).requires_grad_()
        image = x[i : i + 1]

        def elbo(eps: torch.Tensor) -> torch.Tensor:  # eps (1, S, D) -> the ELBO's estimate from those draws
            z, log_q = Flow(free.unpack(theta), context, layers).sample_and_log_prob(eps)
            log_lik = _log_lik_rows(model, nll, image.expand(eps.shape[1], *image.shape[1:]), z[0])
            return (log_lik + prior_log_density(z[0]) - log_q[0]).mean()

        optimiser = torch.optim.Adam([theta, *layers.parameters()], lr=lr, foreach=True)
        for _ in range(steps):
            loss = -elbo(torch.randn((1, draws, d), generator=gen))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            eps = torch.randn((1, FLOW_FIT_CHECK, d), generator=gen)
            z = row.sample(eps)
            lik = _log_lik_rows(model, nll, image.expand(FLOW_FIT_CHECK, *image.shape[1:]), z[0])
            kept = float(elbo(eps)) > float((lik + prior_log_density(z[0]) - row.log_prob_of_eps(eps)[0]).mean())
        found.append(Flow(free.unpack(theta.detach()), context, layers) if kept else row)
    return found


def concat(qs: list[Q]) -> Q:
    """One batch from several batches of the same family."""
    if isinstance(qs[0], Flow):
        return Flow(concat([q.base for q in qs]), torch.cat([q.context for q in qs]), qs[0].layers)
    return Gaussian(torch.cat([g.mean for g in qs]), torch.cat([g.scale_tril for g in qs]))


# --- everything for a batch of images -----------------------------------------------------------


@dataclass
class Inference:
    """Every term of the identity for each image (all (B,) unless said), plus the q*s found."""

    exact: Quadrature
    q: Gaussian  # the encoder's
    encoder: Bounds  # ELBO, IWAE-k, ESS under q
    q_star: Gaussian
    optimised: Bounds  # ELBO under q* (fresh draws)
    q_full: Gaussian | None = None
    full: Bounds | None = None  # ELBO under the full-covariance q*

    @property
    def log_px(self) -> torch.Tensor:
        return self.exact.log_px

    @property
    def kl_posterior(self) -> torch.Tensor:
        """KL(q || p(z|x)) = log p(x) - ELBO."""
        return self.exact.log_px - self.encoder.elbo

    @property
    def approximation_gap(self) -> torch.Tensor:
        return self.exact.log_px - self.optimised.elbo

    @property
    def amortisation_gap(self) -> torch.Tensor:
        return self.optimised.elbo - self.encoder.elbo

    def summary(self) -> dict[str, float]:
        """Means over the images, in nats; a standard error where the terms are Monte Carlo."""
        n = len(self.log_px)

        def se(per_image_se: torch.Tensor) -> float:  # of a mean of independent estimates
            return float(per_image_se.pow(2).sum().sqrt() / n)

        out = {
            "n_images": n,
            "exact_log_px": float(self.log_px.mean()),
            "exact_nll": float(-self.log_px.mean()),
            "quadrature_error_max": float(self.exact.error.max()),
            "elbo": float(self.encoder.elbo.mean()),
            "elbo_se": se(self.encoder.elbo_se),
            "reconstruction": float(self.encoder.reconstruction.mean()),
            "kl_prior": float(self.encoder.kl_prior.mean()),
            "kl_posterior": float(self.kl_posterior.mean()),
            "kl_posterior_se": se(self.encoder.elbo_se),  # log p(x) is exact: the gap's error is the ELBO's
            "kl_posterior_median": float(self.kl_posterior.median()),
            "kl_posterior_max": float(self.kl_posterior.max()),
            "elbo_q_star": float(self.optimised.elbo.mean()),
            "elbo_q_star_se": se(self.optimised.elbo_se),
            "approximation_gap": float(self.approximation_gap.mean()),
            "approximation_gap_se": se(self.optimised.elbo_se),
            "amortisation_gap": float(self.amortisation_gap.mean()),
            "amortisation_gap_se": se((self.optimised.elbo_se.pow(2) + self.encoder.elbo_se.pow(2)).sqrt()),
        }
        for k, value in self.encoder.iwae.items():
            out[f"iwae_{k}"] = float(value.mean())
            out[f"iwae_{k}_se"] = se(self.encoder.iwae_se[k])
            out[f"ess_{k}"] = float(self.encoder.ess[k].mean())
        if self.full is not None:
            out["elbo_q_full"] = float(self.full.elbo.mean())
        return out


def infer(
    model,
    x: torch.Tensor,
    *,
    nll: NLL | None = None,
    n_samples: int = IWAE_GROUPS * max(IWAE_KS),
    full_covariance: bool = False,
    seed: int = 0,
    q_steps: int = Q_STEPS,
    q_tol: float = Q_TOL,
) -> Inference:
    """Exact log p(x) and posterior, the encoder's ELBO and IWAE-k, q* and the gap split, per image.

    q_steps, q_tol: optimise_q's cap on Newton tries and its convergence tolerance (nats)."""
    require_2d(model)
    q = encoder_q(model, x)
    exact = exact_log_px(model, x, nll=nll, q=q)
    encoder = bounds(model, x, q, nll=nll, n_samples=n_samples, seed=seed)
    q_star = optimise_q(model, x, q, nll=nll, steps=q_steps, tol=q_tol)
    # judged on fresh draws: the ascent's own draws would flatter it
    optimised = bounds(model, x, q_star, nll=nll, n_samples=min(n_samples, 1000), ks=(), seed=seed + 1)
    result = Inference(exact, q, encoder, q_star, optimised)
    if full_covariance:
        result.q_full = optimise_q(model, x, q_star, nll=nll, full_covariance=True, steps=q_steps, tol=q_tol)
        result.full = bounds(model, x, result.q_full, nll=nll, n_samples=min(n_samples, 1000), ks=(), seed=seed + 1)
    return result
