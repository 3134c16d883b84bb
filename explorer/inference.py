"""What the Inference page shows, as pure functions returning small dataclasses (numpy out).

The maths is training.inference (the CLI needs it too); this module picks a view box, samples the
exact posterior on it for a heat map, and gathers one image's numbers, or the split's gaps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from training.families import (
    SAME_DECODER_FAMILIES,
    FamilyNumbers,
    exact_for,
    family_numbers,
    same_decoder,
    with_log_px,
)
from training.inference import (
    IWAE_KS,
    encoder_q,
    exact_log_px,
    infer,
    log_posterior_grid,
    spread_index,
)
from training.posteriors import Flow, moments


@dataclass
class ImageInference:
    """One image: every term of log p(x) = ELBO + KL(q || p(z|x)), and what to draw. Nats."""

    log_px: float  # exact, by quadrature
    quadrature_error: float
    elbo: float
    elbo_se: float  # Monte Carlo standard error of the ELBO
    reconstruction: float  # E_q log p(x|z)
    kl_prior: float  # KL(q || N(0, I)), closed form
    iwae: dict[int, float]  # k -> IWAE-k
    iwae_se: dict[int, float]  # k -> its standard error (from IWAE_GROUPS groups of k draws)
    n_samples: int  # draws from q behind the ELBO and IWAE-k
    ess: dict[int, float]  # k -> effective sample size of the k weights
    elbo_star: float  # ELBO of q*, the Gaussian optimised for this image
    elbo_star_se: float
    q_mean: np.ndarray  # (2,) the encoder's q
    q_cov: np.ndarray  # (2, 2)
    star_mean: np.ndarray  # (2,) q*
    star_cov: np.ndarray  # (2, 2)
    post_mean: np.ndarray  # (2,) exact posterior
    post_cov: np.ndarray  # (2, 2)
    density: np.ndarray  # (n, n) p(z|x) on the view box, rows along z1
    lo: np.ndarray  # (2,) view box corners
    hi: np.ndarray

    @property
    def kl_posterior(self) -> float:
        return self.log_px - self.elbo

    @property
    def approximation_gap(self) -> float:
        return self.log_px - self.elbo_star

    @property
    def amortisation_gap(self) -> float:
        return self.elbo_star - self.elbo

    @property
    def amortisation_gap_se(self) -> float:  # two independent Monte Carlo ELBOs; log p(x) is exact
        return float(np.hypot(self.elbo_se, self.elbo_star_se))

    @property
    def post_corr(self) -> float:
        c = self.post_cov
        return float(c[0, 1] / np.sqrt(c[0, 0] * c[1, 1]))


def view_box(*gaussians: tuple[np.ndarray, np.ndarray], sigmas: float = 3.5) -> tuple[np.ndarray, np.ndarray]:
    """A square-ish box holding each (mean, cov) to +/- sigmas standard deviations."""
    lo = np.min([m - sigmas * np.sqrt(np.diag(c)) for m, c in gaussians], axis=0)
    hi = np.max([m + sigmas * np.sqrt(np.diag(c)) for m, c in gaussians], axis=0)
    pad = 0.05 * (hi - lo).max()
    return lo - pad, hi + pad


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().astype(np.float64)


@torch.no_grad()
def analyse_image(vae, x: torch.Tensor, n_heat: int = 100) -> ImageInference:
    """x (1, C, H, W): exact posterior, the encoder's bounds, q* and the heat map, in one go."""
    r = infer(vae, x)
    q_mean, q_cov = (_np(m[0]) for m in moments(r.q))
    star_mean, star_cov = (_np(m[0]) for m in moments(r.q_star))
    post_mean, post_cov = _np(r.exact.mean[0]), _np(r.exact.cov[0])
    lo, hi = view_box((post_mean, post_cov), (q_mean, q_cov), (star_mean, star_cov))
    log_density = log_posterior_grid(vae, x, r.log_px[0], tuple(lo), tuple(hi), n_heat)
    enc, opt = r.encoder, r.optimised
    return ImageInference(
        log_px=float(r.log_px[0]),
        quadrature_error=float(r.exact.error[0]),
        elbo=float(enc.elbo[0]),
        elbo_se=float(enc.elbo_se[0]),
        reconstruction=float(enc.reconstruction[0]),
        kl_prior=float(enc.kl_prior[0]),
        iwae={k: float(enc.iwae[k][0]) for k in IWAE_KS},
        iwae_se={k: float(enc.iwae_se[k][0]) for k in IWAE_KS},
        n_samples=enc.n_samples,
        ess={k: float(enc.ess[k][0]) for k in IWAE_KS},
        elbo_star=float(opt.elbo[0]),
        elbo_star_se=float(opt.elbo_se[0]),
        q_mean=q_mean,
        q_cov=q_cov,
        star_mean=star_mean,
        star_cov=star_cov,
        post_mean=post_mean,
        post_cov=post_cov,
        density=_np(log_density.exp()),
        lo=lo,
        hi=hi,
    )


@torch.no_grad()
def exact_only(vae, x: torch.Tensor, n_heat: int = 100) -> tuple[float, np.ndarray]:
    """The timed core of the page (bench/inference.py): log p(x) and the posterior heat map."""
    exact = exact_log_px(vae, x)
    mean, cov = _np(exact.mean[0]), _np(exact.cov[0])
    lo, hi = view_box((mean, cov))
    return float(exact.log_px[0]), _np(log_posterior_grid(vae, x, exact.log_px[0], tuple(lo), tuple(hi), n_heat))


@dataclass
class SplitGaps:
    """Per image of an even subsample of the test split (nats): where the encoder's guess fails."""

    index: np.ndarray  # (N,) test items
    kl_posterior: np.ndarray  # (N,) log p(x) - ELBO
    approximation: np.ndarray  # (N,) log p(x) - ELBO(q*)
    amortisation: np.ndarray  # (N,) ELBO(q*) - ELBO(q)


def split_gaps(vae, x: torch.Tensor, n: int = 100) -> SplitGaps:
    index = spread_index(len(x), n)
    r = infer(vae, x[index], n_samples=1000)
    return SplitGaps(index.numpy(), _np(r.kl_posterior), _np(r.approximation_gap), _np(r.amortisation_gap))


# --- posterior families (issue 28): each family's q against the exact posterior -------------------


@dataclass
class FamilyPanel:
    """What the page draws for one model: its exact posterior and its q and q* over it (first image)."""

    numbers: FamilyNumbers
    posterior: str  # the model's family (diag, full, flow)
    density: np.ndarray  # (n, n) exact p(z|x) on the box, rows along z1
    q_density: np.ndarray | None  # (n, n) the encoder's q on the box: a flow's (drawn as contours)
    q_moments: tuple[np.ndarray, np.ndarray]  # (2,), (2, 2): a Gaussian q's ellipses
    star_moments: tuple[np.ndarray, np.ndarray]
    lo: np.ndarray
    hi: np.ndarray


@torch.no_grad()
def family_panel(vae, x: torch.Tensor, n: int = 80) -> tuple[FamilyPanel, object]:
    """x (1, C, H, W): one retrained model's numbers and drawing, and its q* (same_decoder reuses it)."""
    q = encoder_q(vae, x)
    exact = exact_for(vae, x, q)  # once: its log p(x) serves the numbers too
    numbers, star = family_numbers(vae, x, log_px=_np(exact.log_px))
    q_m, star_m = (tuple(_np(m[0]) for m in moments(g)) for g in (q, star))
    lo, hi = view_box((_np(exact.mean[0]), _np(exact.cov[0])), q_m, star_m)
    density = _np(log_posterior_grid(vae, x, exact.log_px[0], tuple(lo), tuple(hi), n).exp())
    q_density = None
    if isinstance(q, Flow):
        z0, z1 = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
        z = torch.from_numpy(np.stack(np.meshgrid(z0, z1, indexing="xy"), -1).reshape(1, -1, 2)).float()
        q_density = _np(q.log_prob(z).exp().reshape(n, n))
    return FamilyPanel(numbers, vae.config.posterior, density, q_density, q_m, star_m, lo, hi), star


def pick_families(models: dict[str, object], x: torch.Tensor, families=SAME_DECODER_FAMILIES) -> dict:
    """Everything the Inference page's families section shows for one image x (1, C, H, W), in this
    process: each model's panel ("panels", name -> FamilyPanel) and the first model's decoder with q* in
    each family ("same_decoder"), its exact log p(x) and own-family q* computed once for both. The page
    computes the same in parts on the worker pool (a panel per model, the same decoder's q*s without
    log p(x)) and joins them (join_families): the parts on both cores."""
    panels, stars = {}, {}
    for name, vae in models.items():
        panels[name], stars[name] = family_panel(vae, x)
    first = next(iter(models))
    same = same_decoder(models[first], x, own=(panels[first].numbers, stars[first]), families=families)
    return {"panels": panels, "same_decoder": same}


def family_requests(members: tuple[tuple[str, str, float], ...], index: int) -> list[tuple[str, tuple]]:
    """The Inference page's long requests (explorer/long_tasks.py) for one test image under each (name,
    path, stamp) family set, the first's decoder for the same-decoder comparison: the same decoder's q*s
    (a flow fitted per image: the longest part) and the flow set's panel (its own q* by Newton through the
    flow) first, so the worker pool does not end on one of them while the other core idles."""
    same = ("same_decoder", (members[0][1], members[0][2], index, SAME_DECODER_FAMILIES, False))
    order = sorted(members, key=lambda member: not member[0].startswith("flow"))  # stable: else as given
    return [same, *(("family_panel", (path, stamp, index)) for _, path, stamp in order)]


def join_families(members: tuple[tuple[str, str, float], ...], found: list) -> dict:
    """pick_families' result from the results of family_requests(members, ...), in their order: the
    panels by name (the first member's is the same decoder's model), and the same decoder's numbers
    given that panel's exact log p(x)."""
    requests = family_requests(members, 0)
    by_path = {args[0]: result for (task, args), result in zip(requests, found) if task == "family_panel"}
    panels = {name: by_path[path] for name, path, _ in members}
    first = next(iter(panels.values()))
    return {"panels": panels, "same_decoder": with_log_px(found[0], first.numbers.log_px)}
