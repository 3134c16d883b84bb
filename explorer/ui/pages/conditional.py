"""Conditional VAE: draw a chosen class; fill in a missing half, sharp and varied, beside the
regression that paints the blurry average."""

import streamlit as st

from explorer.ui import urlstate
from explorer.ui.conditional_tabs import choose_set, draw_class, fill_half
from training.store import find_sets

st.title("Conditional VAE")
st.caption(
    "A CVAE encodes q(z | x, c) and decodes p(x | z, c) with the prior N(0, I) whatever the condition c. "
    "Beside it, a regression with the same decoder body maps c straight to an image."
)
choices = find_sets("conditional")


label_sets = [s for s, info in choices.items() if info.condition == "label"]
half_sets = [s for s, info in choices.items() if info.condition == "half"]
if not choices:
    st.info(
        "No conditional models yet. Train one: `python -m training train --dataset digits --model cvae "
        "--condition half --latent-dim 4 --beta 0.5 --epochs 150 --out runs/digits-half` (or `make defaults`)."
    )
    st.stop()

TABS = ["Draw a chosen class", "Fill in a missing half"]
urlstate.seed("cond_tab", TABS[0], options=TABS)
tab_class, tab_fill = st.tabs(TABS, key="cond_tab", on_change="rerun")
with tab_class:
    chosen = choose_set(
        choices,
        label_sets,
        "cond_label_set",
        "No label-conditioned CVAE: train one with `--model cvae --condition label`.",
    )
    if chosen:
        draw_class(*chosen)
with tab_fill:
    chosen = choose_set(
        choices, half_sets, "cond_half_set", "No half-image CVAE: train one with `--model cvae --condition half`."
    )
    if chosen:
        fill_half(*chosen)
