"""Sections of the Half-moon lab page that read more than the page's own numbers."""

from pathlib import Path
from typing import Callable

import numpy as np
import streamlit as st

from explorer import figures
from explorer.ui import cache, waiting
from explorer.ui.bridge import plotly_chart
from explorer.ui.context import LABELS, View
from explorer.ui.lang import t, words
from explorer.ui.text import plain
from training import moons
from training.lab import FAMILY_REGIME, ratio_class
from training.lab import RESULTS as LAB_RESULTS
from training.stats import LEVEL, SAME_WITHIN
from training.store import BUNDLED, find_sets


def lab_text(t: Callable[..., str], row: dict) -> str:
    """One of the lab's comparisons (a row of results.json's comparisons) in t's language: the verdict
    in bold only where the sign-flip test holds at 5 % and the t-interval excludes 1. In English it is
    the lab's own sentence (training.lab.ratio_verdict)."""
    cls = ratio_class(row)
    words = t(f"ratio_{cls}", within=SAME_WITHIN)
    words = f"**{words}**" if cls in ("ae", "vae") else words
    floor = t("lab_floor", floor=row["floor"]) if row.get("floor") else ""
    numbers = {k: row[k] for k in ("ratio", "level", "low", "high", "p", "seeds")}
    return t("lab_line", what=t(f"lab_{row['metric']}"), words=words, floor=floor, **numbers)


def phase_text(t: Callable[..., str], regime: str, f: dict) -> str:
    """A regime's phase-density finding in t's language; in English training.lab.phase_sentence's."""
    decided = f["p"] < 0.05 and not f["low"] <= 0 <= f["high"]
    told = t("lab_phase_less" if f["difference"] < 0 else "lab_phase_more") if decided else t("lab_phase_same")
    return t(
        "lab_phase_line",
        regime=t("regime_" + regime),
        seen=t("lab_phase_seen" if regime == "full" else "lab_phase_unseen"),
        told=told,
        diff=f["difference"],
        level=LEVEL,
        low=f["low"],
        high=f["high"],
        p=f["p"],
        n=len(f["half_minus_seen"]),
        half=f["half_moon_log_px"],
        rest=f["seen_log_px"],
    )


def _lab_results() -> dict | None:
    return cache.lab_results(str(LAB_RESULTS), LAB_RESULTS.stat().st_mtime) if LAB_RESULTS.is_file() else None


def lab_over_seeds(view) -> None:
    """The lab's verdicts over seeds for this pair's regime and latent size, with their intervals."""
    results = _lab_results()
    if not results:
        return
    regime = view.pair["vae"].config.data.regime
    rows = [r for r in results.get("comparisons", []) if (r["regime"], r["latent_dim"]) == (regime, view.latent_dim)]
    if rows:
        st.subheader(t("lab_over_seeds", regime=t("regime_" + regime), dim=view.latent_dim))
        if Path(view.path).parent != BUNDLED:  # under a user's run's verdict: say whose numbers these are
            st.info(
                t("lab_not_your_run", pair=plain(view.pair_id), regime=t("regime_" + regime)), icon=":material/info:"
            )
        for row in rows:
            st.markdown(f"- {lab_text(t, row)}")
        st.caption(t("lab_over_seeds_note"))


def phase_density() -> None:
    """log p(x) over phase for the 2-D VAEs of every regime (lab/results.json), training phases shaded,
    with what it says about the half moons."""
    results = _lab_results()
    curves = (results or {}).get("phase_curves")
    if not curves:
        return
    st.subheader(t("lab_phase_title"))
    first = next(iter(curves.values()))
    st.caption(t("lab_phase_caption", n=len(first["phases"]), error=max(c["max_error"] for c in curves.values())))
    seen = {r: moons.in_training_regime(np.asarray(c["phases"]), r) for r, c in curves.items()}
    labels = {
        "mean": t("lab_phase_mean"),
        "band": t("lab_phase_band"),
        "training": t("lab_phase_training"),
        "phase": t("fig_phase"),
        "log_px": t("lab_phase_log_px"),
    }
    names = {r: t("lab_phase_panel", regime=t("regime_" + r), n=len(c["seeds"])) for r, c in curves.items()}
    plotly_chart(figures.phase_density(curves, seen, labels, names), key="lab_phase_density")
    for regime, finding in curves.items():
        st.markdown(f"- {phase_text(t, regime, finding)}")
    families = results.get("family_curves")
    if families:
        st.caption(t("lab_family_caption", regime=t("regime_" + FAMILY_REGIME)))
        mask = moons.in_training_regime(np.asarray(next(iter(families.values()))["phases"]), FAMILY_REGIME)
        names = {f: family_word(t, f) for f in families}
        plotly_chart(figures.family_density(families, mask, labels, names), key="lab_family_density")
        for family, finding in families.items():
            st.markdown(f"- {family_text(t, family, finding, families.get('diag'))}")


def family_word(t: Callable[..., str], family: str) -> str:
    """A family of training.lab.FAMILY_SETS in t's language: iwae50 is the diagonal one trained on IWAE-50."""
    if family.startswith("iwae"):
        return t("fam_iwae", family=t("fam_diag"), k=int(family.removeprefix("iwae")))
    return t(f"fam_{family}")


def family_text(t: Callable[..., str], family: str, f: dict, reference: dict | None) -> str:
    """A posterior family's phase-density finding in t's language; in English training.lab.family_sentence's."""
    against = (
        t(
            "lab_family_against",
            half=f["half_moon_log_px"] - reference["half_moon_log_px"],
            rest=f["seen_log_px"] - reference["seen_log_px"],
        )
        if reference is not None and reference is not f
        else ""
    )
    return t(
        "lab_family_line",
        family=family_word(t, family),
        set=f["set"],
        diff=f["difference"],
        half=f["half_moon_log_px"],
        rest=f["seen_log_px"],
        against=against,
        error=f["max_error"],
    )


def whole_line(view, models, bank) -> None:
    """A 1-D decoder's whole line: every code from end to end, decoded, with recovered phases."""
    st.subheader(t("lab_whole_line"))
    st.caption(t("lab_whole_line_lead"))
    request = (view.path, view.stamp, tuple(LABELS.items()))
    panels = waiting.result("line_panels", request, "long_task_line_panels", "line")
    if panels is not None:
        plotly_chart(figures.line_strips(panels, t=t), key="lab_line_strips")


def regime_switch(view: View) -> None:
    """Radio of the bundled 2-D moons pairs' regimes; choosing one switches the sidebar's pair to it."""
    pairs = find_sets("pair")
    ids = {r: f"moons-{r}-2d" for r in moons.REGIMES if f"moons-{r}-2d" in pairs}
    if not ids:
        return

    def switch() -> None:
        st.session_state["pair"] = ids[st.session_state["lab_regime"]]
        st.session_state["dataset"] = "moons"

    if view.pair_id in ids.values():
        st.session_state["lab_regime"] = view.pair["vae"].config.data.regime
    st.radio(
        t("lab_regime"),
        list(ids),
        horizontal=True,
        key="lab_regime",
        on_change=switch,
        format_func=lambda r, t=words(): t("regime_" + r),
        help=t("lab_regime_help"),
    )
