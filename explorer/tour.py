"""The guided tour's numbers: one pure function per step, computed on the spot from the chosen pair.

Each returns a small dataclass; the page (explorer/ui/tour_steps.py) only formats it through the
string catalogue (explorer/i18n). Everything here reuses training.metrics, explorer.latents and
explorer.analyses; nothing is re-derived.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from explorer import analyses, latents
from training.bank import Bank, manifold_distance
from training.losses import kl_to_standard_normal
from training.metrics import active_units, reconstruction_errors
from training.models import LOGVAR_RANGE, Posterior, reparameterise
from training.moons import CRESCENT, FULL, nearest_phase_index
from training.stats import t_interval

STEPS = 10  # nine steps and the closing statement
PATH_STEPS = 11  # decodes along a straight line, endpoints included
COLLAPSED_KL = 0.01  # nats: a dimension whose mean KL is below this carries (almost) nothing
IWAE_SLACK = 0.05  # nats: Monte Carlo noise allowed when IWAE-k is checked to rise with k


def item_at(dataset, phase: float) -> int:
    """The test item nearest to phase (moons); elsewhere phase picks a fraction of the split."""
    test = dataset.test
    if "phase" in test.factors:
        return nearest_phase_index(test.factors["phase"], phase)
    return int(round(phase * (len(test) - 1)))


def endpoints(dataset) -> tuple[int, int]:
    """A crescent and a full moon (moons), else two items a third of the split apart."""
    return item_at(dataset, CRESCENT), item_at(dataset, FULL)


# --- 1. an autoencoder --------------------------------------------------------------------------------


@dataclass
class Reconstruction:
    image: np.ndarray  # (C, H, W)
    ae_code: np.ndarray  # (D,)
    vae_mean: np.ndarray  # (D,)
    vae_std: np.ndarray  # (D,)
    decoded: dict[str, np.ndarray]  # kind -> (C, H, W), the decode of the code (VAE: of mu)
    mse: dict[str, float]  # kind -> mean squared pixel error of that decode
    bce: dict[str, float]  # kind -> summed BCE (nats), the loss the models were trained on


@torch.no_grad()
def reconstruction(models: dict, codes: dict[str, latents.Codes], x: torch.Tensor, index: int) -> Reconstruction:
    story = analyses.endpoint_story(models, codes, x[index], index)
    errors = {kind: reconstruction_errors(m, x[index : index + 1]) for kind, m in models.items()}
    decoded = {kind: latents.decode(m, codes[kind].mean[index][None])[0] for kind, m in models.items()}
    return Reconstruction(
        x[index].numpy(),
        codes["ae"].mean[index],
        story.mean,
        story.std,
        decoded,
        story.recon_mse,
        {kind: e["recon_bce"] for kind, e in errors.items()},
    )


# --- 2. the hole ----------------------------------------------------------------------------------------


@dataclass
class Hole:
    interps: dict[str, analyses.Interpolation]
    scores: dict[str, dict]  # analyses.scored_paths: distances per step, phases (moons)
    t: float
    at_t: dict[str, np.ndarray]  # kind -> (C, H, W) decode at fraction t
    distance_at_t: dict[str, float]
    midpoint: dict[str, float]  # kind -> distance of the decode at t = 0.5


def hole(models: dict, codes: dict[str, latents.Codes], bank: Bank, a: int, b: int, t: float) -> Hole:
    interps = analyses.interpolate(models, codes, a, b, PATH_STEPS)
    at = {kind: analyses.decode_at(models[kind], interps[kind], "linear", t) for kind in models}
    mid = {kind: analyses.decode_at(models[kind], interps[kind], "linear", 0.5) for kind in models}
    dist = {kind: float(manifold_distance(img[None], bank)[0][0]) for kind, img in at.items()}
    mid_dist = {kind: float(manifold_distance(img[None], bank)[0][0]) for kind, img in mid.items()}
    return Hole(interps, analyses.scored_paths(interps, bank), t, at, dist, mid_dist)


# --- 3. codes as distributions: z = mu + sigma * eps ---------------------------------------------------


@dataclass
class Sample:
    mean: np.ndarray  # (D,)
    std: np.ndarray  # (D,)
    eps: float
    z: np.ndarray  # (D,) mu + sigma * eps, eps the same in every dimension
    grad_mean: np.ndarray  # (D,) dz/dmu by autograd: 1
    grad_std: np.ndarray  # (D,) dz/dsigma by autograd: eps
    decoded: np.ndarray  # (C, H, W)
    distance: float  # of the decode to the nearest real image
    sigmas_from_mean: float  # |z - mu| / sigma, the same eps read back


def sample(vae, bank: Bank, x: torch.Tensor, eps: float) -> Sample:
    with torch.no_grad():
        posterior = vae.encode(x[None])
    mean = posterior.mean.clone().requires_grad_(True)  # (1, D)
    std = posterior.std.clone().requires_grad_(True)
    noise = torch.full_like(std, float(eps))
    z = reparameterise(Posterior(mean, std), True, noise)  # the training path, gradients kept
    grad_mean, grad_std = torch.autograd.grad(z.sum(), (mean, std))
    z = z.detach().numpy()
    decoded = latents.decode(vae, z)[0]
    back = np.abs(z[0] - mean.detach().numpy()[0]) / std.detach().numpy()[0]
    return Sample(
        mean.detach().numpy()[0],
        std.detach().numpy()[0],
        float(eps),
        z[0],
        grad_mean.numpy()[0],
        grad_std.numpy()[0],
        decoded,
        float(manifold_distance(decoded[None], bank)[0][0]),
        float(back.mean()),
    )


# --- 4. why log sigma^2 ---------------------------------------------------------------------------------


@dataclass
class LogVariance:
    logvar: np.ndarray  # (D,) what the encoder's head outputs for this image
    std: np.ndarray  # (D,) exp(logvar / 2)
    split_std: tuple[float, float]  # smallest and largest sigma over the test split
    split_logvar: tuple[float, float]
    ratio: float  # largest / smallest sigma: the scale a direct sigma head would have to span
    step_change: float  # relative change of the smallest sigma when a direct head moves by 0.01
    clamp: tuple[float, float]  # the model's log sigma^2 clamp


def log_variance(vae_codes: latents.Codes, index: int) -> LogVariance:
    std = vae_codes.std  # (N, D)
    logvar = 2 * np.log(std)
    lo, hi = float(std.min()), float(std.max())
    return LogVariance(
        logvar[index],
        std[index],
        (lo, hi),
        (float(logvar.min()), float(logvar.max())),
        hi / lo,
        0.01 / lo,
        LOGVAR_RANGE,
    )


@dataclass
class SigmaRow:
    """One VAE's encoder sigma over its test split (every item and latent dimension), and what it implies
    for the information a code carries: a Gaussian N(mu, sigma^2) has differential entropy
    1/2 log(2 pi e sigma^2) per dimension, unbounded below as sigma -> 0; against the prior N(0, 1) a code
    known to within sigma is worth about -log sigma nats, the term KL(q || p(z)) charges for it."""

    set_id: str
    latent_dim: int
    n: int  # sigma values measured: items x dimensions
    quantiles: tuple[float, float, float, float, float]  # sigma: min, 25 %, median, 75 %, max

    @property
    def entropy(self) -> tuple[float, float]:
        """Differential entropy per dimension (nats) at the largest and at the smallest sigma."""
        return gaussian_entropy(self.quantiles[4]), gaussian_entropy(self.quantiles[0])

    @property
    def nats(self) -> float:
        """-log sigma at the smallest sigma: the most a single dimension's code is pinned down, in nats."""
        return float(-np.log(self.quantiles[0]))


def gaussian_entropy(sigma: float) -> float:
    """Differential entropy of N(mu, sigma^2) in nats: 1/2 log(2 pi e sigma^2); -> -inf as sigma -> 0."""
    return float(0.5 * np.log(2 * np.pi * np.e * sigma**2))


def sigma_row(set_id: str, vae_codes: latents.Codes) -> SigmaRow:
    std = np.asarray(vae_codes.std, np.float64)  # (N, D)
    q = np.quantile(std, [0.0, 0.25, 0.5, 0.75, 1.0])
    return SigmaRow(set_id, std.shape[1], std.size, tuple(float(v) for v in q))


# --- 5. the KL term and beta --------------------------------------------------------------------------


@dataclass
class KLTerm:
    mean: np.ndarray  # (D,)
    std: np.ndarray  # (D,)
    per_dim: np.ndarray  # (D,) 1/2 (mu^2 + sigma^2 - 1 - log sigma^2), nats
    reconstruction: float  # summed BCE of the decode of mu, nats
    beta: float
    objective: float  # reconstruction + beta * KL: what a beta-VAE minimises for this image
    kl_share: float  # beta * KL / objective


@dataclass
class BetaRow:
    set_id: str
    beta: float
    mean_kl: float  # nats per image over the test split
    active: int  # latent units in use (training.metrics.active_units)
    collapsed: int  # dimensions whose mean KL < COLLAPSED_KL
    latent_dim: int


@torch.no_grad()
def kl_term(vae, x: torch.Tensor, beta: float) -> KLTerm:
    posterior = vae.encode(x[None])
    per_dim = kl_to_standard_normal(posterior.mean, posterior.std)[0].numpy()
    recon = reconstruction_errors(vae, x[None])["recon_bce"]
    kl = float(per_dim.sum())
    objective = recon + beta * kl
    return KLTerm(
        posterior.mean[0].numpy(),
        posterior.std[0].numpy(),
        per_dim,
        recon,
        float(beta),
        objective,
        beta * kl / objective if objective else 0.0,
    )


def beta_row(set_id: str, beta: float, vae_codes: latents.Codes) -> BetaRow:
    """A trained VAE's KL and active units, from its test-split codes."""
    mean, std = torch.from_numpy(vae_codes.mean), torch.from_numpy(vae_codes.std)
    per_dim = kl_to_standard_normal(mean, std).mean(0).numpy()  # (D,) mean over the split
    active, _ = active_units(mean)
    return BetaRow(
        set_id, float(beta), float(per_dim.sum()), int(active), int((per_dim < COLLAPSED_KL).sum()), len(per_dim)
    )


# --- 6. the midpoint, measured ----------------------------------------------------------------------


@dataclass
class Midpoint:
    interps: dict[str, analyses.Interpolation]
    scores: dict[str, dict]  # analyses.scored_paths: distances and (moons) recovered phases per step
    middle: int  # the step at t = 0.5
    truth: np.ndarray | None  # (S, C, H, W) true renders at evenly spaced phases (moons)
    lab: dict[str, dict] | None  # kind -> `python -m training lab` summary for this regime and code size


def midpoint(
    models: dict,
    codes: dict[str, latents.Codes],
    bank: Bank,
    dataset,
    a: int,
    b: int,
    steps: int,
    run_config=None,
    lab_results: dict | None = None,
) -> Midpoint:
    """run_config (the pair's RunConfig) and lab_results pick the lab's cell for this regime and code size."""
    interps = analyses.interpolate(models, codes, a, b, steps)
    test, side = dataset.test, dataset.image_shape[-1]
    truth = None
    if "phase" in test.factors:
        truth = analyses.true_renders(test.factors["phase"][a], test.factors["phase"][b], steps, side)
    lab = None
    config = run_config
    if lab_results is not None and config is not None and config.data.name == "moons":
        from training.lab import _cell  # the lab's own cell look-up

        try:
            lab = {kind: _cell(lab_results, config.data.regime, config.model.latent_dim, kind) for kind in models}
        except StopIteration:  # the lab did not run this regime and code size
            lab = None
    return Midpoint(interps, analyses.scored_paths(interps, bank), steps // 2, truth, lab)


# --- 7. p(x) as an infinite mixture -----------------------------------------------------------------------

MIXTURE_SIZES = (8, 16, 32, 64)  # grid points per axis: the mixture's components are n^2 decodes
MIXTURE_BOX = 4.5  # the grid spans [-box, box]^2: all but ~1e-5 of the prior's mass
MIXTURE_SHOWN = 8  # components drawn


@dataclass
class Mixture:
    """p(x) = integral p(x|z) p(z) dz as a sum over a grid of components p(x|z_k), each weighted by its prior
    mass w_k = p(z_k) h^2: log p(x) for several grid sizes, and the components that carry p(x) for this x."""

    log_px: dict[int, float]  # grid points per axis -> log sum_k w_k p(x|z_k)
    prior_mass: float  # sum_k w_k on the finest grid: how much of p(z) the grid covers
    codes: np.ndarray  # (MIXTURE_SHOWN, 2) the components with the largest share of p(x)
    weights: np.ndarray  # (MIXTURE_SHOWN,) their prior mass w_k
    shares: np.ndarray  # (MIXTURE_SHOWN,) w_k p(x|z_k) / p(x): the posterior mass of their cells
    decodes: np.ndarray  # (MIXTURE_SHOWN, C, H, W) their means, the components' centres in image space
    components: int  # n^2 on the finest grid
    needed: int  # components that together carry 99 % of p(x)


@torch.no_grad()
def mixture(vae, x: torch.Tensor) -> Mixture:
    """x (1, C, H, W) under a 2-D VAE: its p(x) summed over ever finer grids of mixture components."""
    from training.inference import log_likelihoods
    from training.models import prior_log_density

    log_px = {}
    for n in MIXTURE_SIZES:
        h = 2 * MIXTURE_BOX / n
        axis = torch.linspace(-MIXTURE_BOX + h / 2, MIXTURE_BOX - h / 2, n)  # cell centres
        grid = torch.cartesian_prod(axis, axis)  # (n^2, 2)
        log_w = prior_log_density(grid) + 2 * np.log(h)  # (n^2,) each cell's prior mass
        log_terms = log_w + log_likelihoods(vae, x, grid)[0]  # (n^2,) log w_k p(x|z_k)
        log_px[n] = float(torch.logsumexp(log_terms.double(), 0))
    shares = torch.softmax(log_terms.double(), 0)
    order = torch.argsort(shares, descending=True)
    top = order[:MIXTURE_SHOWN]
    needed = int(torch.searchsorted(torch.cumsum(shares[order], 0), torch.tensor(0.99, dtype=torch.float64))) + 1
    return Mixture(
        log_px,
        float(log_w.double().exp().sum()),
        grid[top].numpy(),
        log_w[top].double().exp().numpy(),
        shares[top].numpy(),
        torch.sigmoid(vae.decode_logits(grid[top])).numpy(),
        len(grid),
        needed,
    )


# --- 9. conditional VAE ---------------------------------------------------------------------------------


@dataclass
class Conditional:
    label: int
    samples: np.ndarray  # (n, C, H, W) CVAE draws of the class
    mean_image: np.ndarray  # (C, H, W) the regression's one image of it
    sample_spread: float  # mean per-pixel std across the draws: how much they differ
    item: int  # the test image whose half is filled in
    completion: analyses.Completion


FILL_MASK, FILL_N = "top", 8  # the visible half and how many completions the tour draws


def conditional(label_set: dict, half_set: dict, half_test, label: int, seed: int = 0) -> Conditional:
    """label_set / half_set: {"cvae": model, "regression": model}; half_test: the half set's test split."""
    samples, mean_image = analyses.class_samples(label_set["cvae"], label_set["regression"], label, seed)
    spread = float(samples.std(axis=0).mean())
    labels = None if half_test.y is None else half_test.y.numpy()
    item = latents.class_item(labels, label) if labels is not None else None
    item = int(item if item is not None else min(label, len(half_test) - 1))
    done = analyses.complete_half(
        half_set["cvae"], half_set["regression"], half_test.x[item : item + 1], FILL_MASK, FILL_N, seed
    )
    return Conditional(label, samples, mean_image, spread, item, done)


# --- the closing statement -------------------------------------------------------------------------------


@dataclass
class Claim:
    name: str  # catalogue keys: c_<name>, the tutorial's claim in its words; c_<name>_numbers, what was measured
    verdict: str  # "holds", "fails", or "unclear": the numbers do not separate at 95 %
    values: dict  # the numbers' placeholders
    interval: tuple[float, float] | None = None  # 95 % interval of the deciding difference, where it has noise


def claim(name: str, holds: bool, **values) -> Claim:
    """A claim decided by numbers without sampling noise (a reconstruction, a count)."""
    return Claim(name, "holds" if holds else "fails", values)


Z95 = 1.959963984540054  # the two-sided 95 % normal quantile


def decided(name: str, low: float, high: float, **values) -> Claim:
    """A claim that holds when a difference is above 0, given that difference's 95 % interval: decided only
    when the interval leaves out 0, else "unclear" (no clear difference), shown with the interval."""
    verdict = "holds" if low > 0 else "fails" if high < 0 else "unclear"
    return Claim(name, verdict, values, (low, high))


def bound_claims(r) -> list[Claim]:
    """Steps 7 and 8 on one image (r: explorer.inference.ImageInference): the ELBO is below log p(x), the
    encoder leaves most of the gap (amortisation > approximation), IWAE-k closes it. log p(x) is exact
    (quadrature); every Monte Carlo term carries its standard error, and a difference decides at 95 %."""
    ks = sorted(r.iwae)
    k = ks[-1]
    gaps = [r.log_px - r.iwae[j] for j in ks]
    rising = all(b >= a - IWAE_SLACK for a, b in zip(gaps[1:], gaps))  # gaps shrink as k grows
    # a bound holds unless clearly violated: the ELBO more than 1.96 s.e. above log p(x)
    gap = r.kl_posterior
    elbo = Claim(
        "elbo",
        "holds" if gap + Z95 * r.elbo_se >= 0 else "fails",
        {"elbo": r.elbo, "se": r.elbo_se, "log_px": r.log_px, "gap": gap},
        (gap - Z95 * r.elbo_se, gap + Z95 * r.elbo_se),
    )
    amort_se = float(np.hypot(r.elbo_se, r.elbo_star_se))  # two independent Monte Carlo ELBOs
    diff = r.amortisation_gap - r.approximation_gap  # = 2 ELBO(q*) - ELBO - log p(x)
    half = Z95 * float(np.hypot(2 * r.elbo_star_se, r.elbo_se))
    values = {"amort": r.amortisation_gap, "amort_se": amort_se, "approx": r.approximation_gap}
    estep = decided("estep", diff - half, diff + half, **values, approx_se=r.elbo_star_se)
    closed = gaps[0] - gaps[-1]  # IWAE-k - ELBO, from the same draws: their s.e.s added, not in quadrature
    half = Z95 * (r.iwae_se[k] + r.elbo_se)
    iwae = decided(
        "iwae",
        closed - half,
        closed + half,
        k=k,
        gap=gaps[-1],
        gap_se=r.iwae_se[k],
        elbo_gap=gaps[0],
        elbo_gap_se=r.iwae_se[ks[0]],
    )
    if not rising:  # a gap that grows back with k: "closes in as k grows" fails whatever the ends say
        iwae.verdict = "fails"
    return [elbo, estep, iwae]


def closing(
    recon: Reconstruction, hole_: Hole, beta: BetaRow, filled: Conditional | None, inference=None
) -> list[Claim]:
    """What holds of the tutorial's argument on this pair, each decided by a number the steps showed.
    inference: step 7's explorer.inference.ImageInference, None without a 2-D pair."""
    worst = {kind: s["max_distance"] for kind, s in hole_.scores.items()}  # the hole need not sit at t = 0.5
    claims = [
        claim("recon", recon.mse["ae"] < recon.mse["vae"], ae=recon.mse["ae"], vae=recon.mse["vae"]),
        claim("mid", worst["ae"] > worst["vae"], ae=worst["ae"], vae=worst["vae"]),
        claim("collapse", beta.active == beta.latent_dim, active=beta.active, dim=beta.latent_dim),
    ]
    if filled is not None:
        done = filled.completion
        # the CVAE's n completions against the regression's one: a t-interval over the completions
        _, low, high = t_interval(done.sharpness - done.regression_sharpness)
        sharp = float(done.sharpness.mean())
        claims.append(decided("cvae", low, high, sharp=sharp, n=len(done.sharpness), reg=done.regression_sharpness))
    if inference is not None:
        claims[3:3] = bound_claims(inference)  # in step order: before the CVAE's line
    return claims
