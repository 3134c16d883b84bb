"""Sentences built from measured numbers, never from expectations."""

from __future__ import annotations


def times(a: float, b: float) -> float:
    return max(a, b) / max(min(a, b), 1e-12)


def path_verdict(ae: float, vae: float, proxy: bool) -> str:
    what = "the training images (a proxy for real data)" if proxy else "real moons"
    if abs(ae - vae) <= 0.1 * max(ae, vae, 1e-12):
        return f"Both paths stay about equally close to {what} (mean distance AE {ae:.4f}, VAE {vae:.4f})."
    closer, farther = ("VAE", "AE") if vae < ae else ("AE", "VAE")
    return (
        f"The {closer}'s path stays {times(ae, vae):.1f}x closer to {what} than the {farther}'s "
        f"(mean distance AE {ae:.4f}, VAE {vae:.4f})."
    )


def prior_verdict(vae_standard: float, ae_fitted: float, ae_standard: float) -> str:
    closer = "VAE's" if vae_standard < ae_fitted else "AE's"
    ratio = times(vae_standard, ae_fitted)
    # Equal as shown (or within 5%): "the same", never "1.0x closer".
    same = f"{vae_standard:.4f}" == f"{ae_fitted:.4f}" or ratio < 1.05
    ending = "the two are about the same." if same else f"the {closer} are {ratio:.1f}x closer."
    return (
        f"Prior samples: the VAE's N(0, I) samples lie at mean distance {vae_standard:.4f}, the AE's samples from a "
        f"Gaussian fitted to its codes at {ae_fitted:.4f} (from N(0, I): {ae_standard:.4f}); {ending}"
    )


def half_moon_verdict(passes: dict[str, bool]) -> str:
    through = [k for k, v in passes.items() if v]
    if not through:
        return "Neither path passes through a real half moon."
    if len(through) == len(passes):
        return "Both paths pass through a real half moon."
    return f"Only the {through[0]}'s path passes through a real half moon."
