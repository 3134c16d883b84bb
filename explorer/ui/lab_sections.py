"""Sections of the Half-moon lab page that read more than the page's own numbers."""

from pathlib import Path

import streamlit as st

from explorer import analyses, figures
from explorer.ui import cache
from explorer.ui.bridge import plotly_chart
from explorer.ui.context import KINDS, LABELS, View
from explorer.ui.lang import t
from explorer.ui.text import plain
from training import moons
from training.lab import RESULTS as LAB_RESULTS
from training.store import BUNDLED, find_sets


def lab_over_seeds(view) -> None:
    """The lab's verdicts over seeds for this pair's regime and latent size, with their intervals."""
    if not LAB_RESULTS.is_file():
        return
    from explorer.ui.tour_steps import lab_line

    regime = view.pair["vae"].config.data.regime
    results = cache.lab_results(str(LAB_RESULTS), LAB_RESULTS.stat().st_mtime)
    seeds = results.get("config", {}).get("seeds", 0)
    rows = [r for r in results.get("comparisons", []) if (r["regime"], r["latent_dim"]) == (regime, view.latent_dim)]
    if rows:
        st.subheader(t("lab_over_seeds", regime=t("regime_" + regime), dim=view.latent_dim))
        if Path(view.path).parent != BUNDLED:  # under a user's run's verdict: say whose numbers these are
            st.info(
                t("lab_not_your_run", pair=plain(view.pair_id), regime=t("regime_" + regime)), icon=":material/info:"
            )
        for row in rows:
            st.markdown(f"- {lab_line(t, row, seeds)}")
        st.caption(t("lab_over_seeds_note"))


def whole_line(view, models, bank) -> None:
    """A 1-D decoder's whole line: every code from end to end, decoded, with recovered phases."""
    st.subheader(t("lab_whole_line"))
    st.caption(t("lab_whole_line_lead"))
    panels = analyses.line_panels(models, view.codes, {k: view.train_codes(k) for k in KINDS}, bank, LABELS)
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
        format_func=lambda r: t("regime_" + r),
        help=t("lab_regime_help"),
    )
