"""Loss terms as pure functions, each per image so callers choose how to average."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from .posteriors import log_normal


class BernoulliNLL(torch.autograd.Function):
    """-log Bernoulli(x; sigmoid(l)) per pixel = max(l, 0) - x*l + log(1 + e^-|l|), written with the
    vectorised sigmoid and log. torch's binary_cross_entropy_with_logits goes through log_sigmoid,
    which took a quarter of a training step on this CPU (bench/, torch profiler); this is ~4x faster.
    The gradient with respect to the logits is sigmoid(l) - x, computed in backward from the saved
    logits: so a forward without gradients (inference) skips it, and second derivatives are right
    (q*'s Newton steps in inference.py need them)."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(logits, x)
        # log(1 + e^-|l|) = -log sigmoid(|l|); sigmoid(|l|) lies in [0.5, 1], where log is exact and fast
        return logits.clamp(min=0) - x * logits - torch.log(torch.sigmoid(logits.abs()))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        logits, x = ctx.saved_tensors
        return grad * (torch.sigmoid(logits) - x), None


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-pixel binary cross-entropy from logits (same values as F.binary_cross_entropy_with_logits)."""
    return BernoulliNLL.apply(logits, x)


def continuous_bernoulli_log_norm(logits: torch.Tensor) -> torch.Tensor:
    """log C(lambda) of the continuous Bernoulli (Loaiza-Ganem and Cunningham 2019), lambda = sigmoid(l):
    C = 2 artanh(1 - 2 lambda) / (1 - 2 lambda), which in logits is l / tanh(l / 2), 2 at l = 0.

    Near l = 0 both are 0/0: there log C = log 2 + u^2/3 - 7 u^4/90 with u = l/2 (the series of
    log(u coth u); the next term, 62 u^6/2835, is below 1e-9 where it is used)."""
    u = logits.abs() / 2
    small = u < 0.05
    safe = torch.where(small, torch.ones_like(u), u)  # keeps the unused branch finite (and its gradient)
    exact = math.log(2) + torch.log(safe) - torch.log(torch.tanh(safe))
    series = math.log(2) + u.pow(2) / 3 - 7 * u.pow(4) / 90
    return torch.where(small, series, exact)


def gaussian_nll(logits: torch.Tensor, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """N(x; sigmoid(logits), sigma^2) per pixel, the constant included so the ELBO is a true bound."""
    return 0.5 * ((torch.sigmoid(logits) - x) / sigma).pow(2) + math.log(sigma * math.sqrt(2 * math.pi))


LIKELIHOODS = {  # ModelConfig.likelihood -> per-pixel -log p(x|z) from (logits, x, sigma)
    "bernoulli": lambda logits, x, sigma: bernoulli_nll(logits, x),
    "gaussian": gaussian_nll,
    # the Bernoulli's cross-entropy, normalised over x in [0, 1] by C(lambda): a true density
    "continuous-bernoulli": lambda logits, x, sigma: bernoulli_nll(logits, x) - continuous_bernoulli_log_norm(logits),
}


def reconstruction_nll(logits: torch.Tensor, x: torch.Tensor, likelihood: str, sigma: float = 0.1) -> torch.Tensor:
    """-log p(x|z) per image, summed over pixels: (B, C, H, W) -> (B,)."""
    return LIKELIHOODS[likelihood](logits, x, sigma).flatten(1).sum(1)


def bernoulli_entropy(x: torch.Tensor) -> torch.Tensor:
    """The least -log Bernoulli(x) any model can reach on images x with fractional pixels (at
    sigmoid(l) = x): sum of -x log x - (1 - x) log(1 - x), per image: (B, C, H, W) -> (B,).
    A Bernoulli NLL means little without it: it is not 0 unless every pixel is 0 or 1."""
    return -(torch.xlogy(x, x) + torch.xlogy(1 - x, 1 - x)).flatten(1).sum(1)


def kl_to_standard_normal(mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, std^2) || N(0, 1)) per dimension: (B, D) -> (B, D).

    Closed form (Kingma & Welling 2014, Appendix B): 0.5 * (mean^2 + std^2 - 1 - log std^2).
    """
    return 0.5 * (mean.pow(2) + std.pow(2) - 1.0) - torch.log(std)


class LossTerms(NamedTuple):
    total: torch.Tensor  # scalar the optimiser minimises: mean over the batch
    reconstruction: torch.Tensor  # scalar, mean -log p(x|z) per image
    kl: torch.Tensor  # scalar, mean KL per image (0 for the AE)


def loss_terms(output, x: torch.Tensor, likelihood: str, beta: float, sigma: float = 0.1) -> LossTerms:
    """AE: reconstruction only. VAE: negative ELBO with the KL weighted by beta; the KL in closed form
    for a Gaussian q, else log q(z) - log p(z) at the drawn z (a flow: an unbiased estimate). With K
    draws per image (output.z (B, K, D)): the negative IWAE-K bound (iwae_terms)."""
    if output.z.dim() == 3:
        return iwae_terms(output, x, likelihood, sigma)
    recon = reconstruction_nll(output.logits, x, likelihood, sigma).mean()
    posterior = output.posterior
    if posterior.std is None:
        kl = torch.zeros((), device=x.device)
    elif posterior.q is None:
        kl = kl_to_standard_normal(posterior.mean, posterior.std).sum(-1).mean()
    else:
        closed = posterior.q.kl_to_prior()
        kl = (closed if closed is not None else output.log_q - log_normal(output.z)).mean()
    return LossTerms(recon + beta * kl, recon, kl)


def iwae_terms(output, x: torch.Tensor, likelihood: str, sigma: float = 0.1) -> LossTerms:
    """The importance-weighted bound (Burda et al. 2015, eq. 8) from K draws per image:
    IWAE-K = log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x); total = -IWAE-K averaged over the batch.
    reconstruction and kl are the draws' means of -log p(x|z) and log q(z) - log p(z) (their sum is
    the negative ELBO, so a history reads the same for either objective). At K = 1 it is the ELBO with
    the KL estimated at the draw: the same gradients in expectation as the closed-form KL."""
    b, k = output.z.shape[:2]
    log_lik = -reconstruction_nll(output.logits, x.repeat_interleave(k, 0), likelihood, sigma).reshape(b, k)
    log_ratio = output.log_q - log_normal(output.z)  # (B, K): log q(z) - log p(z)
    bound = torch.logsumexp(log_lik - log_ratio, 1) - math.log(k)
    return LossTerms(-bound.mean(), -log_lik.mean(), log_ratio.mean())
