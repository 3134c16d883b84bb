"""AE vs VAE: the same endpoints interpolated in both models, side by side."""

import numpy as np
import streamlit as st

from explorer import analyses
from explorer.figures import step_distances
from explorer.ui import cache, drag, endpoints, urlstate, widgets
from explorer.ui.bridge import plotly_chart
from explorer.ui.context import KINDS, LABELS, current_view, projection_progress
from explorer.ui.lang import t, words
from explorer.ui.text import plain
from explorer.ui.widgets import show_image, show_strip
from training import paths

PRIOR_SAMPLES = 32
ENDS_KEYS = {
    "by phase": "cmp_by_phase",
    "by class": "cmp_by_class",
    "by index": "cmp_by_index",
    "picked on the map": "cmp_by_map",
}

view = current_view()
st.title(t("nav_compare"))
view.needs("pair")
projection_progress(view)  # a >2-D pair's maps: PCA until the URL's slow projection has fitted
test, models = view.dataset.test, widgets.pair_models(view)
st.caption(t("cmp_lead"))

# --- endpoints ---------------------------------------------------------------------------------
modes = ["by index", "picked on the map"]
if "phase" in test.factors:
    modes.insert(0, "by phase")
elif test.y is not None:
    modes.insert(0, "by class")
urlstate.seed("ends_mode", modes[0], options=modes)
mode = st.radio(
    t("cmp_ends"), modes, format_func=lambda m, t=words(): t(ENDS_KEYS[m]), horizontal=True, key="ends_mode"
)
ends = st.columns(2)
if mode == "by phase":
    a, b = endpoints.phase_pair(
        view, ends, ("phase_a", "phase_b"), (t("cmp_phase", end="A"), t("cmp_phase", end="B")), t("cmp_phase_help")
    )
elif mode == "by class":
    a, b = endpoints.class_pair(view, ends)
else:
    a, b = endpoints.index_pair(view, ends, ("idx_a", "idx_b"), (t("cmp_item", end="A"), t("cmp_item", end="B")))
    if mode == "picked on the map":
        st.radio(t("cmp_click_sets"), ["A", "B"], horizontal=True, key="click_sets")

settings = st.columns(4)
urlstate.seed("steps", 11)
steps = settings[0].slider(t("cmp_steps"), *urlstate.bounds("steps"), key="steps")
urlstate.seed("interp", list(paths.INTERPOLATIONS)[0], options=list(paths.INTERPOLATIONS))
method = settings[1].radio(
    t("cmp_path"),
    list(paths.INTERPOLATIONS),
    format_func=lambda m, t=words(): t("interp_" + m),
    horizontal=True,
    key="interp",
)
urlstate.seed("vae_codes", "posterior mean", options=["posterior mean", "sample"])
vae_mode = settings[2].radio(
    t("cmp_vae_ends"),
    ["posterior mean", "sample"],
    format_func=lambda m, t=words(): t("cmp_mean" if m == "posterior mean" else "cmp_sample"),
    horizontal=True,
    key="vae_codes",
    help=t("cmp_vae_ends_help"),
)
urlstate.seed("noise_seed", 0)
noise_seed = settings[3].number_input(
    t("cmp_noise_seed"), *urlstate.bounds("noise_seed"), key="noise_seed", disabled=vae_mode != "sample"
)

# --- paths -----------------------------------------------------------------------------------------
noise = analyses.endpoint_noise(view.latent_dim, noise_seed) if vae_mode == "sample" else None
interps = analyses.interpolate(models, view.codes, a, b, steps, method, noise)
st.markdown(t("cmp_ends_are", a=a, item_a=plain(view.describe_item(a)), b=b, item_b=plain(view.describe_item(b))))
for col, item, name in zip(st.columns([1, 1, 6]), (a, b), "AB"):
    with col:
        show_image(test.x[item].numpy(), name, target=72)
for kind in KINDS:
    st.markdown(t("cmp_strip", model=LABELS[kind], steps=steps, method=t("interp_" + method)))
    show_strip(interps[kind].strip, target=56)
drag.scrubber(view, interps, method, f"{a}-{b}-{method}-{vae_mode}-{noise_seed}")

# Each decoded step scored as the lab does: on moons against true renders (0 = a real moon, with the
# phase it looks like); elsewhere against the nearest training image, a proxy that rewards copying.
bank = cache.bank(view.path, view.stamp)
scores = analyses.scored_paths(interps, bank)
distances = {LABELS[k]: np.array(scores[k]["distances"]) for k in KINDS}
code_paths = {k: i.path for k, i in interps.items()}
widgets.latent_map_chart(
    view, "compare_map", paths=code_paths, selectable=mode == "picked on the map", on_pick=endpoints.set_endpoint
)
chart_col, text_col = st.columns([3, 2])
label, summary = analyses.score_summary(distances, scores, bank.is_proxy, t=t)
plotly_chart(step_distances(distances, label, t=t), key="step_chart", where=chart_col)
text_col.caption(summary)

png, gif = analyses.export_strips({k: i.strip for k, i in interps.items()})
export = st.container(horizontal=True)  # buttons as wide as their labels, wrapping in a narrow window
export.download_button(t("cmp_png"), png, "interpolation.png", "image/png", key="dl_png")
export.download_button(t("cmp_gif"), gif, "interpolation.gif", "image/gif", key="dl_gif")

# --- prior samples --------------------------------------------------------------------------------
st.subheader(t("cmp_prior"), help=t("help_proxy"))
st.caption(t("cmp_prior_lead"))
urlstate.seed("prior_seed", 0)
seed = st.number_input(t("cmp_sample_seed"), *urlstate.bounds("prior_seed"), key="prior_seed")
sets = analyses.prior_sets(models, view.train_codes("ae").mean, PRIOR_SAMPLES, seed)  # cached training codes
scores = [float(analyses.nearest_distance(s.decoded, view.train_bank()).mean()) for s in sets]
widgets.prior_grids(sets, scores, t("cmp_prior_score"))

# --- explanation -----------------------------------------------------------------------------------
with st.expander(t("cmp_story_title"), expanded=True):
    story = analyses.endpoint_story(models, view.codes, test.x[a], a)
    st.markdown(t("cmp_story"))
    st.markdown(story.describe(a, t=t))
