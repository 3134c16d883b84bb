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
    bounds,
    encoder_q,
    exact_log_px,
    infer,
    log_posterior_grid,
    require_2d,
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
    return analyse_pick(vae, x, n_heat)[0]


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


def _panel(vae, x: torch.Tensor, q, exact, numbers: FamilyNumbers, star, n: int) -> FamilyPanel:
    """One model's drawing for the image x (1, C, H, W): the exact posterior on a box holding it, q and q*,
    and a flow q's own density on the same box."""
    q_m, star_m = (tuple(_np(m[0]) for m in moments(g)) for g in (q, star))
    lo, hi = view_box((_np(exact.mean[0]), _np(exact.cov[0])), q_m, star_m)
    density = _np(log_posterior_grid(vae, x, exact.log_px[0], tuple(lo), tuple(hi), n).exp())
    q_density = None
    if isinstance(q, Flow):
        z0, z1 = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
        z = torch.from_numpy(np.stack(np.meshgrid(z0, z1, indexing="xy"), -1).reshape(1, -1, 2)).float()
        q_density = _np(q.log_prob(z).exp().reshape(n, n))
    return FamilyPanel(numbers, vae.config.posterior, density, q_density, q_m, star_m, lo, hi)


@torch.no_grad()
def family_panel(vae, x: torch.Tensor, n: int = 80) -> tuple[FamilyPanel, object]:
    """x (1, C, H, W): one retrained model's numbers and drawing, and its q* (same_decoder reuses it)."""
    q = encoder_q(vae, x)
    exact = exact_for(vae, x, q)  # once: its log p(x) serves the numbers too
    numbers, star = family_numbers(vae, x, log_px=_np(exact.log_px))
    return _panel(vae, x, q, exact, numbers, star, n), star


def analyse_pick(vae, x: torch.Tensor, n_heat: int = 100) -> tuple[ImageInference, FamilyPanel]:
    """x (1, C, H, W): the Inference page's analysis of one image (ImageInference: the encoder's bounds
    from IWAE_GROUPS * max(IWAE_KS) draws) and its model's families panel, from one exact quadrature, one
    q* in the model's own family (judged on fresh draws) and one heat map: as two requests they computed
    each twice."""
    return _analyse(vae, x, n_heat)[:2]


@torch.no_grad()
def _analyse(vae, x: torch.Tensor, n_heat: int = 100) -> tuple[ImageInference, FamilyPanel, object]:
    """analyse_pick's two results and its q*."""
    require_2d(vae)
    q = encoder_q(vae, x)
    exact = exact_for(vae, x, q)
    enc = bounds(vae, x, q, seed=0)
    numbers, star = family_numbers(vae, x, log_px=_np(exact.log_px))
    panel = _panel(vae, x, q, exact, numbers, star, n_heat)
    (q_mean, q_cov), (star_mean, star_cov) = panel.q_moments, panel.star_moments
    image = ImageInference(
        log_px=float(exact.log_px[0]),
        quadrature_error=float(exact.error[0]),
        elbo=float(enc.elbo[0]),
        elbo_se=float(enc.elbo_se[0]),
        reconstruction=float(enc.reconstruction[0]),
        kl_prior=float(enc.kl_prior[0]),
        iwae={k: float(enc.iwae[k][0]) for k in IWAE_KS},
        iwae_se={k: float(enc.iwae_se[k][0]) for k in IWAE_KS},
        n_samples=enc.n_samples,
        ess={k: float(enc.ess[k][0]) for k in IWAE_KS},
        elbo_star=float(numbers.elbo_star[0]),
        elbo_star_se=float(numbers.elbo_star_se[0]),
        q_mean=q_mean,
        q_cov=q_cov,
        star_mean=star_mean,
        star_cov=star_cov,
        post_mean=_np(exact.mean[0]),
        post_cov=_np(exact.cov[0]),
        density=panel.density,
        lo=panel.lo,
        hi=panel.hi,
    )
    return image, panel, star


def pick_families(models: dict[str, object], x: torch.Tensor, families=SAME_DECODER_FAMILIES) -> dict:
    """Everything the Inference page shows for one image x (1, C, H, W), in this process: the first model's
    analysis ("image", ImageInference), each model's panel ("panels", name -> FamilyPanel) and the first
    model's decoder with q* in each family ("same_decoder"), its exact log p(x) and own-family q* computed
    once for all three. The page computes the same in parts on the worker pool (the first model's analysis
    and panel, a panel per other model, the same decoder's q*s without log p(x)) and joins them
    (join_families): the parts on both cores."""
    first, *rest = models
    image, own, star = _analyse(models[first], x)
    panels = {first: own} | {name: family_panel(models[name], x)[0] for name in rest}
    same = same_decoder(models[first], x, own=(own.numbers, star), families=families)
    return {"image": image, "panels": panels, "same_decoder": same}


def family_requests(members: tuple[tuple[str, str, float], ...], index: int) -> list[tuple[str, tuple]]:
    """The Inference page's long requests (explorer/long_tasks.py) for one test image under each (name,
    path, stamp) family set, the first being the page's own: its analysis with its panel ("pick") first,
    what the page draws at the top; then the longest parts, a flow set's panel (its own q* by Newton
    through the flow) and the same decoder's q*s (a flow fitted per image), so the worker pool does not end
    on one of them while the other core idles; then the other sets' panels. The page asks for all at once."""
    (_, path, stamp), rest = members[0], members[1:]
    flows = [m for m in rest if m[0].startswith("flow")]
    others = [m for m in rest if not m[0].startswith("flow")]
    panel = lambda member: ("family_panel", (member[1], member[2], index))  # noqa: E731
    same = ("same_decoder", (path, stamp, index, SAME_DECODER_FAMILIES, False))
    return [("pick", (path, stamp, index)), *map(panel, flows), same, *map(panel, others)]


def join_families(members: tuple[tuple[str, str, float], ...], found: list) -> dict:
    """pick_families' result from the results of family_requests(members, ...), in their order: the page's
    own analysis, the panels by name (the first member's from its analysis: the same decoder's model), and
    the same decoder's numbers given that panel's exact log p(x)."""
    requests = family_requests(members, 0)
    by_task = {(task, args[0]): result for (task, args), result in zip(requests, found)}
    image, own = by_task["pick", members[0][1]]
    panels = {name: by_task["family_panel", path] for name, path, _ in members[1:]}
    panels = {members[0][0]: own, **panels}
    same = with_log_px(by_task["same_decoder", members[0][1]], own.numbers.log_px)
    return {"image": image, "panels": panels, "same_decoder": same}
