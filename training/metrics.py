"""How good is a model, measured. Pure functions of (model, data) or of decoded images.

- reconstruction: summed BCE per image and per-pixel MSE, decoding the posterior mean
- ELBO (with its Monte Carlo error), importance-weighted NLL (Burda et al. 2015) with its ESS, and for
  2-D latents the exact NLL by quadrature, for the VAE, in nats per image; the Bernoulli floor
- KL per latent dimension and active units: dimensions whose posterior mean varies across
  the data, Cov_x(E_q[z_d]) > 0.01 (Burda et al. 2015, section 5.2)
- manifold distance: how far a decoded image is from anything real. For moons, the smallest
  mean squared pixel error to a dense bank of true renders, and the phase of the best match
  (the way ACAI, Berthelot et al. 2019, scored interpolations of lines of known angle). For
  other data the nearest training image stands in: a proxy, not ground truth.
- path scores, prior-sample validity and hole maps built on it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import moons
from .errors import TrainingError
from .inference import bounds, encoder_q, exact_log_px, spread
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


FULL = Budget()  # `python -m training eval` and `defaults`
# Saves from the app: a moons run's save took ~130 s under load at FULL; this is the same kind of
# measurement at about a tenth of the cost, labelled as such.
QUICK = Budget(elbo_samples=20, n_images=50, iwae_k=500)


@torch.no_grad()
def elbo_and_iwae(model: Autoencoder, x: torch.Tensor, budget: Budget = FULL, seed: int = 0) -> dict[str, float]:
    """The ELBO over all of x with its standard error, and on budget.n_images of x the k-sample IWAE
    bound on -log p(x) (Burda et al. 2015) with the effective sample size of its weights; nats per image.

    log p(x) >= log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x),  z_i ~ q(z|x)
    An ESS far below k means q misses the posterior and the IWAE bound may still be loose.
    """
    k = budget.iwae_k
    elbo = bounds(model, x, encoder_q(model, x), n_samples=budget.elbo_samples, ks=(), seed=seed)
    few = spread(x, budget.n_images)
    iwae = bounds(model, few, encoder_q(model, few), n_samples=k, ks=(k,), seed=seed + 1)
    return {
        "elbo": float(elbo.elbo.mean()),
        "elbo_se": float(elbo.elbo_se.pow(2).sum().sqrt() / len(x)),  # of the mean over images
        "elbo_samples": budget.elbo_samples,
        "iwae_nll": -float(iwae.iwae[k].mean()),
        "iwae_k": k,
        "iwae_ess": float(iwae.ess[k].mean()),
        "iwae_n_images": len(few),
    }


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
    model: Autoencoder, x: torch.Tensor, iwae_k: int | None = None, budget: Budget = FULL
) -> dict[str, float | int | list[float]]:
    """Everything `python -m training eval` prints for one model, on the images x; iwae_k overrides the budget's."""
    if iwae_k is not None:
        budget = dataclasses.replace(budget, iwae_k=iwae_k)
    model.eval()
    metrics: dict = {"n_images": len(x), **reconstruction_errors(model, x)}
    if model.config.likelihood == "bernoulli":  # the floor any Bernoulli NLL on these images sits on
        metrics["bernoulli_floor"] = float(bernoulli_entropy(x).mean())
    means, stds = encode_all(model, x)
    metrics["active_units"], metrics["mean_variance_per_dim"] = active_units(means)
    metrics["latent_dim"] = model.latent_dim
    if stds is not None:
        kl_per_dim = kl_to_standard_normal(means, stds).mean(0)
        metrics["kl_per_dim"] = kl_per_dim.tolist()
        metrics["kl"] = float(kl_per_dim.sum())
        metrics.update(elbo_and_iwae(model, x, budget))
        if model.latent_dim == 2:
            metrics.update(exact_nll(model, x, budget.n_images))
    return metrics


def elbo_text(m: dict, digits: int = 2, one_draw: str = "(1 draw)") -> str:
    """The ELBO as "value ± s.e."; a sidecar from before the standard error held one draw per image
    (one_draw says so: the app passes it in the reader's language)."""
    if "elbo_se" in m:
        return f"{m['elbo']:.{digits}f} ± {m['elbo_se']:.{digits}f}"
    return f"{m['elbo']:.{digits}f} {one_draw}"


def nll_text(m: dict, digits: int = 2, detail: bool = True, exact: str = "exact") -> str:
    """-log p(x) and how it was measured: exact (2-D latents) or the IWAE-k bound (with its ESS);
    detail (the CLI's) adds on how many images."""
    if "exact_nll" in m:
        return f"{m['exact_nll']:.{digits}f} {exact}" + (f" ({m['exact_n_images']} images)" if detail else "")
    more = f", ESS {m['iwae_ess']:.0f}, {m['iwae_n_images']} images" if detail and "iwae_ess" in m else ""
    return f"{m['iwae_nll']:.{digits}f} IWAE-{m['iwae_k']}{more}"


# --- manifold distance -----------------------------------------------------------------------

BANK_PHASES = 1000  # true renders at phases i / 1000


@dataclass
class Bank:
    """Reference images a decoded image is compared with: (M, P) float32, flattened."""

    images: np.ndarray
    phases: np.ndarray | None  # (M,) phase of each true render; None for a proxy bank
    description: str
    radius: np.ndarray | None = None  # (M,) moons.phase_neighbourhood of each render: its "real moon" radius

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
    radius = moons.phase_neighbourhood(phases, size, scale, dx, dy)
    return Bank(images.reshape(len(images), -1), phases, f"{len(images):,} true renders", radius)


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


def real_moons(images: np.ndarray, bank: Bank) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which images are real moons, in phase units: (N,) valid, recovered phase, distance.

    An image is a real moon of phase p when p is the phase of its nearest true render and it is no
    further from that render than the renders moons.PHASE_TOLERANCE of a cycle away are.
    """
    idx, dist = nearest_by_mse(images, bank.images, k=1)
    idx, dist = idx[:, 0], dist[:, 0]
    return dist <= bank.radius[idx], bank.phases[idx], dist


def half_moon_renders(bank: Bank) -> np.ndarray:
    """The bank's renders whose phase is in the half-moon band: (K, P)."""
    return bank.images[moons.near_half_moon(bank.phases)]


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


def latent_box(codes: np.ndarray, margin: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension bounds (D,), (D,) of codes, widened by margin of their range on each side."""
    lo, hi = codes.min(0), codes.max(0)
    pad = margin * np.maximum(hi - lo, 1e-3)
    return lo - pad, hi + pad


def box_candidates(lo: np.ndarray, hi: np.ndarray, n: int, seed: int) -> np.ndarray:
    """About n codes filling the box: a grid for 1-D and 2-D codes, uniform draws above. (n', D)"""
    d = len(lo)
    if d <= 2:
        side = int(round(n ** (1 / d)))
        axes = np.meshgrid(*[np.linspace(lo[i], hi[i], side) for i in range(d)], indexing="ij")
        return np.stack([a.ravel() for a in axes], axis=1).astype(np.float32)
    return np.random.default_rng(seed).uniform(lo, hi, size=(n, d)).astype(np.float32)


def closest_half_moon(
    model: Autoencoder,
    bank: Bank,
    lo: np.ndarray,
    hi: np.ndarray,
    n: int = 10_000,
    refine: int = 16,
    steps: int = 100,
    seed: int = 0,
) -> dict:
    """Does the decoder invent a half moon anywhere in the box [lo, hi]? A search, not one path.

    Decode n codes filling the box, then from the refine best start gradient descent (Adam, codes
    clamped to the box) on the distance to the nearest half-moon render (phase 0.2-0.3 or 0.7-0.8).
    Returns the smallest distance found, its code, the recovered phase of that decode and whether
    it is a real half moon in phase units.
    """
    targets = torch.from_numpy(half_moon_renders(bank))  # (K, P)
    codes = torch.from_numpy(box_candidates(lo, hi, n, seed))

    def distance(z: torch.Tensor) -> torch.Tensor:  # (B, D) -> (B,) MSE to the nearest half-moon render
        x = model.decode(z).flatten(1)
        d2 = (x * x).sum(1, keepdim=True) - 2 * x @ targets.T + (targets * targets).sum(1)[None]
        return d2.min(1).values / x.shape[1]

    with torch.no_grad():
        found = torch.cat([distance(codes[s : s + BATCH]) for s in range(0, len(codes), BATCH)])
    z = codes[found.argsort()[:refine]].clone().requires_grad_(True)
    box = torch.from_numpy(np.asarray(lo, np.float32)), torch.from_numpy(np.asarray(hi, np.float32))
    optimiser = torch.optim.Adam([z], lr=0.02 * float((box[1] - box[0]).max()))
    with torch.enable_grad():
        for _ in range(steps):
            optimiser.zero_grad()
            loss = distance(z).sum()
            if not loss.requires_grad:  # a decoder without gradients (a lookup): the starts stand
                break
            loss.backward()
            optimiser.step()
            with torch.no_grad():
                z.copy_(torch.maximum(torch.minimum(z, box[1]), box[0]))
    with torch.no_grad():
        refined = distance(z)
        candidates = torch.cat([refined, found.min()[None]])
        best_code = z[refined.argmin()] if refined.min() <= found.min() else codes[found.argmin()]
        image = model.decode(best_code[None]).numpy()
    valid, phase, _ = real_moons(image, bank)
    return {
        "distance": float(candidates.min()),
        "code": best_code.tolist(),
        "phase": float(phase[0]),
        "is_half_moon": bool(valid[0] and moons.near_half_moon(phase)[0]),
    }


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
    if len(codes) < 2 or not np.isfinite(codes).all():  # np.cov gives NaN, and sampling fails in an SVD
        raise TrainingError(
            f"cannot fit a Gaussian to {len(codes)} training codes"
            + ("" if np.isfinite(codes).all() else " that are not all finite")
            + ": the AE's samples need at least 2 finite codes"
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
