"""What the likelihood p(x|z) chosen for training means, measured on one model's decodes (tutorials 000, 002
and 004 use a Gaussian p(x|z), whose -log is a scaled MSE plus a constant; this repo trains with a Bernoulli
by default). Each row: the per-image -log p(x|z) of the same decodes under one likelihood, and its floor."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from training.losses import LIKELIHOODS, bernoulli_entropy, reconstruction_nll


@dataclass
class LikelihoodRow:
    key: str  # training.losses.LIKELIHOODS key
    nll: float  # mean -log p(x|z) per image, nats
    nll_se: float  # its standard error over the images
    floor: float | None  # the least -log p(x|z) a perfect decoder could reach on these images, if known


@dataclass
class Likelihoods:
    rows: list[LikelihoodRow]
    n: int  # images
    pixels: int  # D, per image
    mse: float  # mean summed squared error per image, sum over pixels of (mean decode - x)^2
    sigma: float  # the Gaussian's pixel std

    @property
    def gaussian_constant(self) -> float:
        """D log(sigma sqrt(2 pi)): the Gaussian's -log p(x|z) at zero error (it is below 0 for sigma < 0.40)."""
        return self.pixels * math.log(self.sigma * math.sqrt(2 * math.pi))

    @property
    def mse_weight(self) -> float:
        """1 / (2 sigma^2): what one unit of summed squared error costs in nats under the Gaussian."""
        return 1 / (2 * self.sigma**2)


@torch.no_grad()
def measure(vae, x: torch.Tensor, sigma: float) -> Likelihoods:
    """x (N, C, H, W): decodes of the VAE's posterior means, scored under every likelihood."""
    logits = vae.decode_logits(vae.encode(x).mean)
    sq = (torch.sigmoid(logits) - x).pow(2).flatten(1).sum(1)  # (N,)
    floors = {"bernoulli": float(bernoulli_entropy(x).mean()), "gaussian": None, "continuous-bernoulli": None}
    rows = []
    for key in LIKELIHOODS:
        nll = reconstruction_nll(logits, x, key, sigma).double().numpy()  # (N,)
        rows.append(LikelihoodRow(key, float(nll.mean()), float(nll.std(ddof=1) / np.sqrt(len(nll))), floors[key]))
    out = Likelihoods(rows, len(x), x[0].numel(), float(sq.mean()), sigma)
    out.rows[[r.key for r in rows].index("gaussian")].floor = out.gaussian_constant
    return out
