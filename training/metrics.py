"""How good is a model, measured on held-out images. Pure functions of (model, data).

- reconstruction: summed BCE per image and per-pixel MSE, decoding the posterior mean
- ELBO and importance-weighted NLL (Burda et al. 2015) for the VAE, in nats per image
- KL per latent dimension and active units: dimensions whose posterior mean varies across
  the data, Cov_x(E_q[z_d]) > 0.01 (Burda et al. 2015, section 5.2)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .losses import kl_to_standard_normal, reconstruction_nll
from .models import Autoencoder, prior_log_density

ACTIVE_UNIT_THRESHOLD = 0.01
BATCH = 1024


@torch.no_grad()
def encode_all(model: Autoencoder, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Posterior means (N, D) and stds (N, D) or None, in batches."""
    means, stds = [], []
    for start in range(0, len(x), BATCH):
        posterior = model.encode(x[start : start + BATCH])
        means.append(posterior.mean)
        if posterior.std is not None:
            stds.append(posterior.std)
    return torch.cat(means), (torch.cat(stds) if stds else None)


@torch.no_grad()
def reconstruction_errors(model: Autoencoder, x: torch.Tensor) -> dict[str, float]:
    bce, mse = 0.0, 0.0
    for start in range(0, len(x), BATCH):
        batch = x[start : start + BATCH]
        logits = model.decode_logits(model.encode(batch).mean)
        bce += float(F.binary_cross_entropy_with_logits(logits, batch, reduction="none").flatten(1).sum(1).sum())
        mse += float((torch.sigmoid(logits) - batch).pow(2).mean(dim=(1, 2, 3)).sum())
    return {"recon_bce": bce / len(x), "recon_mse": mse / len(x)}


def active_units(means: torch.Tensor, threshold: float = ACTIVE_UNIT_THRESHOLD) -> tuple[int, list[float]]:
    """Count of dimensions whose posterior mean has variance above threshold across the data."""
    variance = means.var(dim=0, unbiased=True) if len(means) > 1 else torch.zeros(means.shape[1])
    return int((variance > threshold).sum()), variance.tolist()


@torch.no_grad()
def elbo_and_iwae(
    model: Autoencoder, x: torch.Tensor, k: int = 50, seed: int = 0
) -> dict[str, float]:
    """ELBO (1 sample) and the k-sample IWAE bound on -log p(x), both in nats per image.

    log p(x) >= log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x),  z_i ~ q(z|x)   (Burda et al. 2015)
    """
    config = model.config
    gen = torch.Generator().manual_seed(seed)
    neg_elbo, nll = 0.0, 0.0
    batch_size = max(1, BATCH // k)
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        mean, std = model.encode(batch)
        b, d = mean.shape
        eps = torch.randn((k, b, d), generator=gen)
        z = mean + std * eps  # (k, B, D)
        logits = model.decode_logits(z.reshape(k * b, d))
        log_px_z = -reconstruction_nll(
            logits, batch.repeat(k, 1, 1, 1), config.likelihood, config.gaussian_sigma
        ).reshape(k, b)
        log_pz = prior_log_density(z)  # (k, B)
        log_qz = (-0.5 * eps.pow(2) - torch.log(std) - 0.5 * math.log(2 * math.pi)).sum(-1)  # (k, B)
        log_w = log_px_z + log_pz - log_qz
        nll -= float((torch.logsumexp(log_w, dim=0) - math.log(k)).sum())
        kl = kl_to_standard_normal(mean, std).sum(-1)
        neg_elbo += float((-log_px_z[0] + kl).sum())
    return {"elbo": -neg_elbo / len(x), "iwae_nll": nll / len(x), "iwae_k": k}


@torch.no_grad()
def evaluate_model(model: Autoencoder, x: torch.Tensor, iwae_k: int = 50) -> dict[str, float | int | list[float]]:
    """Everything `python -m training eval` prints for one model, on the images x."""
    model.eval()
    metrics: dict = {"n_images": len(x), **reconstruction_errors(model, x)}
    means, stds = encode_all(model, x)
    metrics["active_units"], metrics["mean_variance_per_dim"] = active_units(means)
    metrics["latent_dim"] = model.latent_dim
    if stds is not None:
        kl_per_dim = kl_to_standard_normal(means, stds).mean(0)
        metrics["kl_per_dim"] = kl_per_dim.tolist()
        metrics["kl"] = float(kl_per_dim.sum())
        metrics.update(elbo_and_iwae(model, x, k=iwae_k))
    return metrics
