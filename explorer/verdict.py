"""Sentences built from measured numbers, never from expectations.

One pair on screen has no interval, so a difference under SAME_WITHIN is called "the same" rather
than "1.0x closer"; the lab's sentences (training.lab.ratio_verdict) carry bootstrap intervals over
seeds and say "no clear difference" when the interval covers 1.
"""

from __future__ import annotations

SAME_WITHIN = 0.1  # one pair, no interval: closer than this (relative) is "the same"


def times(a: float, b: float) -> float:
    return max(a, b) / max(min(a, b), 1e-12)


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= SAME_WITHIN * max(a, b, 1e-12)


def path_verdict(ae: float, vae: float, proxy: bool, worst: tuple[float, float] | None = None) -> str:
    """ae, vae: mean distance along each path; worst: (AE, VAE) largest distance on the path."""
    what = "the training images (a proxy for real data)" if proxy else "real moons"
    numbers = f"mean distance AE {ae:.4f}, VAE {vae:.4f}"
    if worst is not None:
        numbers += f"; worst point AE {worst[0]:.4f}, VAE {worst[1]:.4f}"
    if _same(ae, vae):
        return f"Both paths stay about equally close to {what}: the same within {SAME_WITHIN:.0%} ({numbers})."
    closer, farther = ("VAE", "AE") if vae < ae else ("AE", "VAE")
    return f"The {closer}'s path stays {times(ae, vae):.1f}x closer to {what} than the {farther}'s ({numbers})."


def prior_verdict(vae_standard: float, ae_fitted: float, ae_standard: float) -> str:
    numbers = (
        f"Prior samples: the VAE's N(0, I) samples lie at mean distance {vae_standard:.4f}, the AE's samples from a "
        f"Gaussian fitted to its codes at {ae_fitted:.4f} (from N(0, I): {ae_standard:.4f})"
    )
    if _same(vae_standard, ae_fitted):
        return f"{numbers}; the same within {SAME_WITHIN:.0%}."
    closer = "VAE's" if vae_standard < ae_fitted else "AE's"
    return f"{numbers}; the {closer} are {times(vae_standard, ae_fitted):.1f}x closer."


def half_moon_verdict(passes: dict[str, bool]) -> str:
    through = [k for k, v in passes.items() if v]
    if not through:
        return "Neither path passes through a real half moon."
    if len(through) == len(passes):
        return "Both paths pass through a real half moon."
    return f"Only the {through[0]}'s path passes through a real half moon."


def lab_verdicts(results: dict, regime: str, latent_dim: int) -> list[str]:
    """The lab's sentences (with their intervals over seeds) for one regime and latent size, from
    lab/results.json; empty when the lab did not run that cell."""
    return [
        c["verdict"] for c in results.get("comparisons", []) if (c["regime"], c["latent_dim"]) == (regime, latent_dim)
    ]
