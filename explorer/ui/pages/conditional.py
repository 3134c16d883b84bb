"""Conditional VAE: draw a chosen class; fill in a missing half, sharp and varied, beside the
regression that paints the blurry average."""

import streamlit as st

from explorer.i18n import LANGUAGES, tr
from explorer.ui import urlstate
from explorer.ui.conditional_tabs import choose_set, draw_class, fill_half
from explorer.ui.context import PageEnd
from explorer.ui.lang import t
from training.store import find_sets

st.title(t("nav_conditional"))
st.caption(t("cond_lead"))
choices = find_sets("conditional")


label_sets = [s for s, info in choices.items() if info.condition == "label"]
half_sets = [s for s, info in choices.items() if info.condition == "half"]
if not choices:
    st.info(t("cond_none"))
    raise PageEnd

# The URL carries the tab's label (st.tabs has no format_func): a label in either language selects its tab.
TAB_KEYS = ["cond_tab_class", "cond_tab_fill"]
TABS = [t(key) for key in TAB_KEYS]
shown = {tr(lang, key): i for lang in LANGUAGES for i, key in enumerate(TAB_KEYS)}.get(st.session_state.get("cond_tab"))
if shown is not None:
    st.session_state["cond_tab"] = TABS[shown]
urlstate.seed("cond_tab", TABS[0], options=TABS)
tab_class, tab_fill = st.tabs(TABS, key="cond_tab", on_change="rerun")
with tab_class:
    chosen = choose_set(
        choices,
        label_sets,
        "cond_label_set",
        t("cond_no_label"),
    )
    if chosen:
        draw_class(*chosen)
with tab_fill:
    chosen = choose_set(choices, half_sets, "cond_half_set", t("cond_no_half"))
    if chosen:
        fill_half(*chosen)
