"""How good is a model, measured. Pure functions of (model, data) or of decoded images.

- reconstruction: summed BCE per image and per-pixel MSE, decoding the posterior mean
- ELBO and importance-weighted NLL (Burda et al. 2015) for the VAE, in nats per image
- KL per latent dimension and active units: dimensions whose posterior mean varies across
  the data, Cov_x(E_q[z_d]) > 0.01 (Burda et al. 2015, section 5.2)
- manifold distance: how far a decoded image is from anything real. For moons, the smallest
  mean squared pixel error to a dense bank of true renders, and the phase of the best match
  (the way ACAI, Berthelot et al. 2019, scored interpolations of lines of known angle). For
  other data the nearest training image stands in: a proxy, not ground truth.
- path scores, prior-sample validity and hole maps built on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import moons
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
def elbo_and_iwae(model: Autoencoder, x: torch.Tensor, k: int = 50, seed: int = 0) -> dict[str, float]:
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


# --- manifold distance -----------------------------------------------------------------------

BANK_PHASES = 1000  # true renders at phases i / 1000
HALF_MOON_PHASE_TOLERANCE = 0.05  # a recovered phase this close to 0.25 or 0.75 is a half moon ...
REAL_DISTANCE = 0.005  # ... if the image is also this close (MSE) to a true render


@dataclass
class Bank:
    """Reference images a decoded image is compared with: (M, P) float32, flattened."""

    images: np.ndarray
    phases: np.ndarray | None  # (M,) phase of each true render; None for a proxy bank
    description: str

    @property
    def is_proxy(self) -> bool:
        return self.phases is None


def moon_bank(size: int = 28, jitter: bool = False, n_phases: int = BANK_PHASES) -> Bank:
    """True renders at n_phases phases (times a 3x3x3 size/position grid when jitter is on)."""
    phases = np.arange(n_phases) / n_phases
    if jitter:
        grid = np.array(np.meshgrid(phases, [0.8, 0.9, 1.0], [-2, 0, 2], [-2, 0, 2], indexing="ij")).reshape(4, -1)
        phases, scale, dx, dy = grid
    else:
        scale, dx, dy = 1.0, 0.0, 0.0
    images = moons.render(phases, size, scale, dx, dy)
    return Bank(images.reshape(len(images), -1), phases, f"{len(images):,} true renders")


def training_bank(x: torch.Tensor, limit: int = 20_000) -> Bank:
    x = x[:limit]
    return Bank(
        x.reshape(len(x), -1).numpy().astype(np.float32), None, f"nearest of {len(x):,} training images (proxy)"
    )


def bank_for(dataset) -> Bank:
    """Moons get the exact bank (matching the data's size and jitter); anything else a proxy."""
    if dataset.name == "moons" and "phase" in dataset.test.factors:
        jitter = bool(np.any(dataset.test.factors["dx"] != 0))
        return moon_bank(dataset.image_shape[-1], jitter)
    return training_bank(dataset.train.x)


def nearest_by_mse(
    queries: np.ndarray, bank: np.ndarray, k: int = 1, chunk: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """k nearest bank rows by mean squared error: (M, P), (N, P) -> indices (M, k), distances (M, k)."""
    q = queries.reshape(len(queries), -1).astype(np.float32)
    b = bank.reshape(len(bank), -1).astype(np.float32)
    k = min(k, len(b))
    b_sq = (b * b).sum(1)[None]
    all_idx, all_dist = [], []
    for start in range(0, len(q), chunk):
        qc = q[start : start + chunk]
        # ||q - b||^2 = |q|^2 - 2 q.b + |b|^2, as one matrix product
        d2 = np.maximum((qc * qc).sum(1)[:, None] - 2 * qc @ b.T + b_sq, 0) / q.shape[1]
        idx = np.argpartition(d2, k - 1, axis=1)[:, :k] if k < len(b) else np.tile(np.arange(len(b)), (len(qc), 1))
        order = np.take_along_axis(d2, idx, 1).argsort(1)
        idx = np.take_along_axis(idx, order, 1)
        all_idx.append(idx)
        all_dist.append(np.take_along_axis(d2, idx, 1))
    return np.concatenate(all_idx), np.concatenate(all_dist)


def manifold_distance(images: np.ndarray, bank: Bank) -> tuple[np.ndarray, np.ndarray | None]:
    """Per image: the MSE to the closest bank image, and (moons) the phase of that match."""
    idx, dist = nearest_by_mse(images, bank.images, k=1)
    phases = None if bank.phases is None else bank.phases[idx[:, 0]]
    return dist[:, 0], phases


def smoothness(phases: np.ndarray) -> float:
    """Largest phase step over the total change, minus 1/(n-1): 0 for even steps, near 1 for one jump.

    Steps are measured round the cycle. A path whose phase does not move at all scores 0.
    """
    n = len(phases)
    if n < 3:
        return 0.0
    steps = moons.circular_distance(phases[1:], phases[:-1])
    total = steps.sum()
    return 0.0 if total < 1e-9 else float(steps.max() / total - 1.0 / (n - 1))


def path_scores(images: np.ndarray, bank: Bank) -> dict:
    """Scores of a decoded interpolation (S images): distances along it, and for moons how it moves."""
    dist, phases = manifold_distance(images, bank)
    scores = {"mean_distance": float(dist.mean()), "max_distance": float(dist.max()), "distances": dist.tolist()}
    if phases is not None:
        near_half = np.min([moons.circular_distance(phases, h) for h in moons.HALF_MOON_PHASES], axis=0)
        scores["phases"] = phases.tolist()
        scores["smoothness"] = smoothness(phases)
        scores["passes_half_moon"] = bool(np.any((near_half <= HALF_MOON_PHASE_TOLERANCE) & (dist <= REAL_DISTANCE)))
    return scores


@torch.no_grad()
def prior_validity(model: Autoencoder, bank: Bank, codes: np.ndarray, seed: int = 0) -> float:
    """Mean manifold distance of decoded codes (e.g. 1,000 prior samples)."""
    images = model.decode(torch.from_numpy(np.asarray(codes, dtype=np.float32))).numpy()
    return float(manifold_distance(images, bank)[0].mean())


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


# --- conditional models: filling in a missing half -------------------------------------------


def masked_mse(images: torch.Tensor, target: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the region's pixels, per image: (..., C, H, W) -> (...)."""
    return ((images - target) ** 2 * region).flatten(-3).sum(-1) / region.flatten(-3).sum(-1)


def fit_gaussian(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of codes: the AE's stand-in for a prior."""
    d = codes.shape[1]
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


def sharpness(images: torch.Tensor) -> torch.Tensor:
    """Mean gradient magnitude (finite differences) per image: blurry images score low."""
    dx = (images[..., :, 1:] - images[..., :, :-1]).abs().flatten(-3).mean(-1)
    dy = (images[..., 1:, :] - images[..., :-1, :]).abs().flatten(-3).mean(-1)
    return (dx + dy) / 2


@torch.no_grad()
def completion_metrics(cvae, regression, x: torch.Tensor, n_samples: int = 8, seed: int = 0) -> dict:
    """Fill in each half of every image in x: the regression once, the CVAE n_samples times.

    Errors are MSE over the missing half against the truth. The blur argument, measured: the
    regression's completion is compared with the pixel mean of the CVAE's samples, and so is
    a single sample.
    """
    from .conditions import MASKS, half_condition, half_mask

    gen = torch.Generator().manual_seed(seed)
    per_mask = {}
    for kind in MASKS:
        mask = half_mask(kind, tuple(x.shape[1:])).expand_as(x)
        missing = 1 - mask
        c = half_condition(x, mask)
        reg = regression.decode(c)  # (N, C, H, W)
        z = torch.randn((n_samples, len(x), cvae.latent_dim), generator=gen)
        samples = torch.stack([cvae.decode(z[i], c) for i in range(n_samples)])  # (S, N, C, H, W)
        sample_err = masked_mse(samples, x, missing)  # (S, N)
        pairwise = [
            masked_mse(samples[i], samples[j], missing) for i in range(n_samples) for j in range(i + 1, n_samples)
        ]
        mean_sample = samples.mean(0)
        recon = cvae.decode(cvae.encode(x, c).mean, c)
        per_mask[kind] = {
            "regression_error": float(masked_mse(reg, x, missing).mean()),
            "cvae_best_of_n_error": float(sample_err.min(0).values.mean()),
            "cvae_mean_error": float(sample_err.mean()),
            "cvae_diversity": float(torch.stack(pairwise).mean()) if pairwise else 0.0,
            "sharpness_regression": float(sharpness(reg * missing).mean()),
            "sharpness_cvae": float(sharpness(samples * missing).mean()),
            "sharpness_truth": float(sharpness(x * missing).mean()),
            "regression_to_sample_mean": float(masked_mse(reg, mean_sample, missing).mean()),
            "sample_to_sample_mean": float(masked_mse(samples, mean_sample, missing).mean()),
            "cvae_visible_error": float(masked_mse(recon, x, mask).mean()),
        }
    keys = next(iter(per_mask.values())).keys()
    summary = {k: float(np.mean([m[k] for m in per_mask.values()])) for k in keys}
    return {"n_images": len(x), "n_samples": n_samples, **summary, "per_mask": per_mask}


LABEL_SAMPLES = 16  # z per class in label_metrics (older sidecars do not record it)


@torch.no_grad()
def label_metrics(cvae, regression, n_classes: int, n_samples: int = LABEL_SAMPLES, seed: int = 0) -> dict:
    """Class-conditional sampling: how much the label and how much z move the decoded image."""
    from .conditions import label_condition

    gen = torch.Generator().manual_seed(seed)
    z = torch.randn((n_samples, cvae.latent_dim), generator=gen)
    labels = torch.arange(n_classes)
    # (classes, samples, C, H, W): every z decoded under every label
    grid = torch.stack(
        [cvae.decode(z, label_condition(labels[k].repeat(n_samples), n_classes)) for k in range(n_classes)]
    )
    per_label_spread = grid.var(1).flatten(1).mean(1)  # z moves the image within a class
    per_z_spread = grid.var(0).flatten(1).mean(1)  # the label moves the image for a fixed z
    reg = regression.decode(label_condition(labels, n_classes))
    return {
        "n_classes": n_classes,
        "n_samples": n_samples,
        "within_class_variance": float(per_label_spread.mean()),
        "across_class_variance": float(per_z_spread.mean()),
        "sharpness_cvae": float(sharpness(grid).mean()),
        "sharpness_regression": float(sharpness(reg).mean()),
    }
