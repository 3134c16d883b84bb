"""Sections of the Half-moon lab page that read more than the page's own numbers."""

import streamlit as st

from explorer import analyses, figures, verdict
from explorer.ui import cache
from explorer.ui.bridge import plotly_chart
from explorer.ui.context import KINDS, LABELS, View
from training import moons
from training.lab import RESULTS as LAB_RESULTS
from training.store import find_sets


def lab_over_seeds(view) -> None:
    """The lab's verdicts over seeds for this pair's regime and latent size, with their intervals."""
    if not LAB_RESULTS.is_file():
        return
    regime = view.pair["vae"].config.data.regime
    results = cache.lab_results(str(LAB_RESULTS), LAB_RESULTS.stat().st_mtime)
    told = verdict.lab_verdicts(results, regime, view.latent_dim)
    if told:
        st.subheader(f"The lab over seeds: {regime} regime, latent size {view.latent_dim}")
        for line in told:
            st.markdown(f"- {line}")
        st.caption("From lab/results.json (`python -m training lab`): every ratio with its bootstrap interval.")


def whole_line(view, models, bank) -> None:
    """A 1-D decoder's whole line: every code from end to end, decoded, with recovered phases."""
    st.subheader("The whole 1-D line")
    st.caption(
        "Every code from end to end (VAE: the prior's ±3; AE: its codes' range + 10 %), decoded; below, the "
        "recovered phase of each decode, green where it is a real moon of that phase. Ticks: training codes."
    )
    panels = analyses.line_panels(models, view.codes, {k: view.train_codes(k) for k in KINDS}, bank, LABELS)
    plotly_chart(figures.line_strips(panels), key="lab_line_strips")


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
        "Training regime (bundled 2-D pairs)",
        list(ids),
        horizontal=True,
        key="lab_regime",
        on_change=switch,
        help="sparse: only crescents and full moons; gap: no phases near a half moon; full: every phase",
    )
