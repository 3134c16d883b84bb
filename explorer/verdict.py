"""Sentences built from measured numbers, never from expectations.

One pair on screen has no interval, so a difference under SAME_WITHIN is called "the same" rather
than "1.0x closer"; the lab's sentences (training.lab.ratio_verdict) carry t-intervals and sign-flip p over
seeds and say "no clear difference" when the interval covers 1.
"""

from __future__ import annotations

from explorer.i18n import ENGLISH, Words

SAME_WITHIN = 0.1  # one pair, no interval: closer than this (relative) is "the same"


def times(a: float, b: float) -> float:
    return max(a, b) / max(min(a, b), 1e-12)


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= SAME_WITHIN * max(a, b, 1e-12)


def path_verdict(
    ae: float, vae: float, proxy: bool, worst: tuple[float, float] | None = None, t: Words = ENGLISH
) -> str:
    """ae, vae: mean distance along each path; worst: (AE, VAE) largest distance on the path."""
    what = t("v_what_proxy" if proxy else "v_what_moons")
    numbers = t("v_numbers", ae=ae, vae=vae)
    if worst is not None:
        numbers += t("v_worst", ae=worst[0], vae=worst[1])
    if _same(ae, vae):
        return t("v_path_same", what=what, within=SAME_WITHIN, numbers=numbers)
    closer, farther = ("VAE", "AE") if vae < ae else ("AE", "VAE")
    return t("v_path_closer", closer=closer, farther=farther, times=times(ae, vae), what=what, numbers=numbers)


def prior_verdict(vae_standard: float, ae_fitted: float, ae_standard: float, t: Words = ENGLISH) -> str:
    numbers = t("v_prior_numbers", vae=vae_standard, fitted=ae_fitted, standard=ae_standard)
    if _same(vae_standard, ae_fitted):
        return t("v_prior_same", numbers=numbers, within=SAME_WITHIN)
    closer = "VAE" if vae_standard < ae_fitted else "AE"
    return t("v_prior_closer", numbers=numbers, closer=closer, times=times(vae_standard, ae_fitted))


def half_moon_verdict(passes: dict[str, bool], t: Words = ENGLISH) -> str:
    through = [k for k, v in passes.items() if v]
    if not through:
        return t("v_half_none")
    if len(through) == len(passes):
        return t("v_half_both")
    return t("v_half_one", model=through[0])
