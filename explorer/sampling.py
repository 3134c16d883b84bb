"""Three ways to the posterior p(z|x) of one image under a 2-D VAE, each with what it cost (tutorial 004:
the alternatives to variational inference): the encoder's q(z|x) (one pass), the exact grid (adaptive
quadrature, training/inference.py) and sampling the true posterior with a short Metropolis chain.

Costs are counted (decoder evaluations: codes decoded) and timed (seconds, this process, now); the chain's
mean carries its Monte Carlo standard error from the spread of its independent chains' means.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from training.inference import encoder_q, exact_log_px, log_likelihoods, model_nll
from training.models import prior_log_density

CHAINS = 8  # independent chains, run side by side (one batched decode per step)
STEPS = 400  # Metropolis steps per chain
BURN_IN = 100  # first steps of each chain left out of the estimates
SCALE = 2.38 / np.sqrt(2)  # random-walk step ~ 2.38 / sqrt(d) times the posterior's scale (d = 2)


class Counting:
    """The model with its decoded codes counted: what each method spends, in one currency."""

    def __init__(self, model):
        self.model, self.decoded = model, 0

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        self.decoded += len(z)
        return self.model.decode_logits(z)

    def __getattr__(self, name):
        return getattr(self.model, name)


@dataclass
class Method:
    key: str  # "q", "grid" or "mcmc" (the catalogue names it)
    mean: np.ndarray  # (2,)
    std: np.ndarray  # (2,)
    corr: float
    decoded: int  # codes decoded (the encoder's one pass counts 0)
    seconds: float
    mean_se: np.ndarray | None = None  # (2,) Monte Carlo standard error of the mean (the chain only)


@dataclass
class PosteriorMethods:
    methods: dict[str, Method]
    accept: float  # the chain's acceptance rate
    chains: int
    steps: int
    burn_in: int

    def off_by(self, key: str) -> float:
        """How far a method's mean is from the exact one, in the exact posterior's standard deviations
        (Mahalanobis distance under the grid's covariance)."""
        grid, m = self.methods["grid"], self.methods[key]
        cov = np.outer(grid.std, grid.std) * np.array([[1, grid.corr], [grid.corr, 1]])
        d = m.mean - grid.mean
        return float(np.sqrt(d @ np.linalg.solve(cov, d)))

    def chain_agrees(self) -> bool:
        """The chain's mean within 2 Monte Carlo standard errors of the exact mean, in both coordinates."""
        m, grid = self.methods["mcmc"], self.methods["grid"]
        return bool(np.all(np.abs(m.mean - grid.mean) <= 2 * m.mean_se))


def _moments(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    cov = np.cov(z.T)
    std = np.sqrt(np.diag(cov))
    return z.mean(0), std, float(cov[0, 1] / (std[0] * std[1]))


@torch.no_grad()
def metropolis(model, x: torch.Tensor, start: torch.Tensor, scale: torch.Tensor, seed: int = 0, nll=None):
    """Random-walk Metropolis on log p(x|z) + log p(z): start (C, 2), proposals N(0, scale scale^T).
    Halfway through the burn-in the proposal is re-fitted to the chains' spread. Returns the chains
    (C, STEPS, 2) and the acceptance rate after the burn-in."""
    g = torch.Generator().manual_seed(seed)
    nll = nll or model_nll(model)
    z = start.clone()
    log_joint = lambda z: log_likelihoods(model, x, z[None], nll)[0] + prior_log_density(z)  # noqa: E731
    current = log_joint(z)
    out, accepted = torch.empty(len(z), STEPS, 2), 0
    for step in range(STEPS):
        if step == BURN_IN // 2:  # the step follows the chains' own spread so far (burn-in only: kept steps fixed)
            seen = out[:, BURN_IN // 4 : step].reshape(-1, 2).double()
            scale = SCALE * torch.linalg.cholesky(torch.cov(seen.T) + 1e-9 * torch.eye(2)).float()
        proposal = z + torch.randn(z.shape, generator=g) @ scale.T
        new = log_joint(proposal)
        take = torch.log(torch.rand(len(z), generator=g)) < new - current
        z, current = torch.where(take[:, None], proposal, z), torch.where(take, new, current)
        accepted += int(take.sum()) if step >= BURN_IN else 0
        out[:, step] = z
    return out, accepted / (len(z) * (STEPS - BURN_IN))


@torch.no_grad()
def compare(vae, x: torch.Tensor, seed: int = 0, nll=None) -> PosteriorMethods:
    """x (1, C, H, W): q(z|x), the exact grid and a Metropolis chain, each with its cost. nll: -log p(x|z)
    from (logits, x), per image; by default the likelihood the model was trained with."""
    counted = Counting(vae)
    start = time.perf_counter()
    q = encoder_q(vae, x)
    q_seconds = time.perf_counter() - start
    q_mean, q_cov = q.mean[0].double().numpy(), q.cov[0].double().numpy()
    q_std = np.sqrt(np.diag(q_cov))
    methods = {"q": Method("q", q_mean, q_std, float(q_cov[0, 1] / (q_std[0] * q_std[1])), 0, q_seconds)}

    start = time.perf_counter()
    exact = exact_log_px(counted, x, nll=nll, q=q)
    grid_seconds = time.perf_counter() - start
    std = exact.std[0].double().numpy()
    methods["grid"] = Method(
        "grid", exact.mean[0].double().numpy(), std, float(exact.corr[0]), counted.decoded, grid_seconds
    )

    counted.decoded = 0
    g = torch.Generator().manual_seed(seed)
    scale = SCALE * q.scale_tril[0]  # the encoder's guess of the posterior's shape sets the step
    starts = q.mean + 2 * torch.randn(CHAINS, 2, generator=g) @ q.scale_tril[0].T  # dispersed around q
    start = time.perf_counter()
    chains, accept = metropolis(counted, x, starts, scale, seed, nll)
    mcmc_seconds = time.perf_counter() - start
    kept = chains[:, BURN_IN:].double().numpy()  # (C, S, 2)
    mean, std, corr = _moments(kept.reshape(-1, 2))
    mean_se = kept.mean(1).std(0, ddof=1) / np.sqrt(CHAINS)  # the chains are independent
    methods["mcmc"] = Method("mcmc", mean, std, corr, counted.decoded, mcmc_seconds, mean_se)
    return PosteriorMethods(methods, accept, CHAINS, STEPS, BURN_IN)
