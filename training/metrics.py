"""How good is a model, measured. Pure functions of (model, data) or of decoded images.

- reconstruction: summed BCE per image and per-pixel MSE, decoding the posterior mean
- ELBO (with its Monte Carlo error), importance-weighted NLL (Burda et al. 2015) with its ESS, and for
  2-D latents the exact NLL by quadrature, for the VAE, in nats per image; the Bernoulli floor
- KL per latent dimension and active units: dimensions whose posterior mean varies across
  the data, Cov_x(E_q[z_d]) > 0.01 (Burda et al. 2015, section 5.2)
- path scores and prior-sample validity and coverage, from the manifold distance to the true-render
  bank (training.bank)
- conditional models: how well they fill in a missing half, and samples per label

Elsewhere: the bank itself (bank.py), latent geometry (geometry.py), prior sampling (sampling.py)
and metrics as text (metric_text.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import moons
from .bank import Bank, half_moon_renders, manifold_distance, nearest_by_mse, real_moons
from .inference import IWAE_GROUPS, bounds, encoder_q, exact_log_px, spread
from .losses import bernoulli_entropy, kl_to_standard_normal
from .models import Autoencoder

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


@dataclass(frozen=True)
class Budget:
    """How much Monte Carlo and quadrature a measurement gets. Every number it buys is stored with
    its budget (elbo_samples, iwae_k, iwae_n_images, exact_n_images), so a table says what was measured."""

    elbo_samples: int = 100  # draws per image: the ELBO comes with its Monte Carlo standard error
    n_images: int = 200  # IWAE-k and exact quadrature: test images spread evenly (moons' split is sorted)
    iwae_k: int = 5000
    iwae_groups: int = IWAE_GROUPS  # disjoint groups of iwae_k draws per image: IWAE-k's standard error


FULL = Budget()  # `python -m training eval` and `defaults`
# Saves from the app: a moons run's save took ~130 s under load at FULL; this is the same kind of
# measurement at about a tenth of the cost, labelled as such.
QUICK = Budget(elbo_samples=20, n_images=50, iwae_k=500)


@torch.no_grad()
def elbo_and_iwae(
    model: Autoencoder, x: torch.Tensor, budget: Budget = FULL, seed: int = 0, on_step=None
) -> dict[str, float]:
    """On budget.n_images of x (spread evenly), the ELBO with its standard error and the k-sample IWAE
    bound on -log p(x) (Burda et al. 2015) with its standard error (budget.iwae_groups groups of k draws)
    and the effective sample size of its weights; nats per image. Both on the same images as the exact
    NLL and the Bernoulli floor (evaluate_model), so one table's numbers compare.

    log p(x) >= log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x),  z_i ~ q(z|x)
    An ESS far below k means q misses the posterior and the IWAE bound may still be loose.
    """
    k = budget.iwae_k
    step = on_step or (lambda what: None)
    few = spread(x, budget.n_images)
    step("ELBO")
    elbo = bounds(model, few, encoder_q(model, few), n_samples=budget.elbo_samples, ks=(), seed=seed)
    step("IWAE")
    iwae = bounds(model, few, encoder_q(model, few), n_samples=budget.iwae_groups * k, ks=(k,), seed=seed + 1)
    return {
        "elbo": float(elbo.elbo.mean()),
        "elbo_se": float(elbo.elbo_se.pow(2).sum().sqrt() / len(few)),  # of the mean over images
        "elbo_samples": budget.elbo_samples,
        "elbo_n_images": len(few),
        **rate_distortion(elbo),  # rate: KL(q || p(z)) of the model's own family (was also saved as elbo_kl)
        "iwae_nll": -float(iwae.iwae[k].mean()),
        "iwae_se": float(iwae.iwae_se[k].pow(2).sum().sqrt() / len(few)),  # of the mean, from the groups' spread
        "iwae_k": k,
        "iwae_groups": budget.iwae_groups,
        "iwae_ess": float(iwae.ess[k].mean()),
        "iwae_n_images": len(few),
    }


def rate_distortion(b) -> dict[str, float]:
    """The ELBO's two terms (Alemi et al. 2018), nats per image, from the same draws: rate = KL(q(z|x) || p(z)),
    distortion = E_q[-log p(x|z)]; -ELBO = rate + distortion exactly. b: inference.Bounds."""
    return {"rate": float(b.kl_prior.mean()), "distortion": -float(b.reconstruction.mean())}


@torch.no_grad()
def exact_nll(model: Autoencoder, x: torch.Tensor, n_images: int = FULL.n_images) -> dict[str, float]:
    """2-D latents: -log p(x) by quadrature (training.inference) on n_images spread evenly through x."""
    exact = exact_log_px(model, spread(x, n_images))
    return {
        "exact_nll": -float(exact.log_px.mean()),
        "exact_n_images": len(exact.log_px),
        "exact_error": float(exact.error.max()),
    }


@torch.no_grad()
def evaluate_model(
    model: Autoencoder, x: torch.Tensor, iwae_k: int | None = None, budget: Budget = FULL, on_step=None
) -> dict[str, float | int | list[float]]:
    """Everything `python -m training eval` prints for one model, on the images x; iwae_k overrides the budget's.
    on_step(what), if given, hears each slow measurement as it starts ("reconstruction", "ELBO", "IWAE",
    "exact NLL"): a run's status says which."""
    step = on_step or (lambda what: None)
    step("reconstruction")
    if iwae_k is not None:
        budget = dataclasses.replace(budget, iwae_k=iwae_k)
    model.eval()
    metrics: dict = {"n_images": len(x), **reconstruction_errors(model, x)}
    if model.config.likelihood == "bernoulli":  # the floor any Bernoulli NLL on these images sits on: on the
        # images the ELBO, IWAE-k and exact NLL are measured on (the whole split's was 0.5 nats off on mnist5k)
        metrics["bernoulli_floor"] = float(bernoulli_entropy(spread(x, budget.n_images)).mean())
    means, stds = encode_all(model, x)
    metrics["active_units"], metrics["mean_variance_per_dim"] = active_units(means)
    metrics["latent_dim"] = model.latent_dim
    if stds is not None:
        kl_per_dim = kl_to_standard_normal(means, stds).mean(0)
        metrics["kl_per_dim"] = kl_per_dim.tolist()
        metrics["kl"] = float(kl_per_dim.sum())
        metrics.update(elbo_and_iwae(model, x, budget, on_step=step))
        if getattr(getattr(model, "config", None), "posterior", "diag") != "diag":
            metrics["kl"] = metrics["rate"]  # the per-dim figures are the marginals'; the whole KL is q's
        if model.latent_dim == 2:
            step("exact NLL")
            metrics.update(exact_nll(model, x, budget.n_images))
    return metrics


# --- scores on the true-render bank -----------------------------------------------------------


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
    """Scores of a decoded interpolation (S images): distances along it, and for moons how it moves.

    The worst point (largest distance) is reported with its index; for moons also the closest the
    path comes to any half-moon render (half_moon_miss) and whether a point is a real half moon.
    """
    if bank.is_proxy:
        dist, phases = manifold_distance(images, bank)
    else:
        valid, phases, dist = real_moons(images, bank)
    worst = int(dist.argmax())
    scores = {
        "mean_distance": float(dist.mean()),
        "max_distance": float(dist[worst]),
        "worst_index": worst,
        "distances": dist.tolist(),
    }
    if phases is not None:
        scores["phases"] = phases.tolist()
        scores["worst_phase"] = float(phases[worst])
        scores["smoothness"] = smoothness(phases)
        scores["passes_half_moon"] = bool(np.any(valid & moons.near_half_moon(phases)))
        scores["half_moon_miss"] = float(nearest_by_mse(images, half_moon_renders(bank))[1].min())
    return scores


@torch.no_grad()
def prior_validity(model: Autoencoder, bank: Bank, codes: np.ndarray, seed: int = 0) -> float:
    """Mean manifold distance of decoded codes (e.g. 1,000 prior samples)."""
    images = model.decode(torch.from_numpy(np.asarray(codes, dtype=np.float32))).numpy()
    return float(manifold_distance(images, bank)[0].mean())


def prior_coverage(images: np.ndarray, bank: Bank, data_phases: np.ndarray, bins: int = 20) -> dict:
    """How decoded samples cover the moons: validity in phase units and recovered phases against the data's.

    coverage_gap is the total variation distance between the samples' phase histogram, with every
    sample that is not a real moon in an extra "not a moon" bin, and the data's: 0 when the samples
    are real moons spread like the data, 1 when none is a real moon.
    """
    valid, phases, dist = real_moons(images, bank)
    edges = np.linspace(0, 1, bins + 1)
    samples = np.histogram(phases[valid], edges)[0] / len(images)
    data = np.histogram(np.asarray(data_phases) % 1.0, edges)[0] / len(data_phases)
    return {
        "mean_distance": float(dist.mean()),
        "valid_fraction": float(valid.mean()),
        "half_fraction": float((valid & moons.near_half_moon(phases)).mean()),
        "data_half_fraction": float(moons.near_half_moon(np.asarray(data_phases)).mean()),
        "coverage_gap": float(0.5 * (np.abs(samples - data).sum() + (1 - valid.mean()))),
        "phase_histogram": samples.tolist(),
        "data_histogram": data.tolist(),
    }


# --- conditional models: filling in a missing half -------------------------------------------


def masked_mse(images: torch.Tensor, target: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the region's pixels, per image: (..., C, H, W) -> (...)."""
    return ((images - target) ** 2 * region).flatten(-3).sum(-1) / region.flatten(-3).sum(-1)


def sharpness(images: torch.Tensor) -> torch.Tensor:
    """Mean gradient magnitude (finite differences) per image: blurry images score low."""
    dx = (images[..., :, 1:] - images[..., :, :-1]).abs().flatten(-3).mean(-1)
    dy = (images[..., 1:, :] - images[..., :-1, :]).abs().flatten(-3).mean(-1)
    return (dx + dy) / 2


@torch.no_grad()
def completion_metrics(cvae, regression, x: torch.Tensor, n_samples: int = 8, seed: int = 0) -> dict:
    """Fill in each half of every image in x: the regression once, the CVAE n_samples times.

    Errors are MSE over the missing half against the truth. The blur argument, measured: how far the
    regression's completion lies from the pixel mean of the CVAE's samples, against how far one sample
    lies from the mean of the *other* samples (leave-one-out: a mean that includes the sample flatters
    it by (S-1)/S), and against the samples' own per-pixel variance. Sharpness: the CVAE's (mean over its
    samples) minus the regression's, paired per image and half, with its t-interval over those.
    """
    from .conditions import MASKS, half_condition, half_mask
    from .stats import t_interval

    gen = torch.Generator().manual_seed(seed)
    per_mask, sharp_diffs = {}, []
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
        others = (n_samples * mean_sample - samples) / max(n_samples - 1, 1)  # (S, N, ...) mean of the rest
        variance = samples.var(0, unbiased=True) if n_samples > 1 else torch.zeros_like(mean_sample)
        recon = cvae.decode(cvae.encode(x, c).mean, c)
        cvae_sharp = sharpness(samples * missing).mean(0)  # (N,) mean over the samples
        reg_sharp = sharpness(reg * missing)  # (N,)
        sharp_diffs.append(cvae_sharp - reg_sharp)
        per_mask[kind] = {
            "regression_error": float(masked_mse(reg, x, missing).mean()),
            "cvae_best_of_n_error": float(sample_err.min(0).values.mean()),
            "cvae_mean_error": float(sample_err.mean()),
            "cvae_diversity": float(torch.stack(pairwise).mean()) if pairwise else 0.0,
            "sharpness_regression": float(reg_sharp.mean()),
            "sharpness_cvae": float(cvae_sharp.mean()),
            "sharpness_truth": float(sharpness(x * missing).mean()),
            "regression_to_sample_mean": float(masked_mse(reg, mean_sample, missing).mean()),
            "sample_to_others_mean": float(masked_mse(samples, others, missing).mean()),
            "sample_variance": float(masked_mse(variance.sqrt(), torch.zeros_like(variance), missing).mean()),
            "cvae_visible_error": float(masked_mse(recon, x, mask).mean()),
        }
    keys = next(iter(per_mask.values())).keys()
    summary = {k: float(np.mean([m[k] for m in per_mask.values()])) for k in keys}
    diff, low, high = t_interval(torch.cat(sharp_diffs).numpy())  # over every (half, image): paired
    return {
        "n_images": len(x),
        "n_samples": n_samples,
        **summary,
        "sharpness_difference": diff,
        "sharpness_difference_low": low,
        "sharpness_difference_high": high,
        "per_mask": per_mask,
    }


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
