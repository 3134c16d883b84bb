"""AE vs VAE: the same endpoints interpolated in both models, side by side."""

import numpy as np
import streamlit as st

from explorer import analyses
from explorer.figures import step_distances
from explorer.ui import cache, drag, endpoints, urlstate, widgets
from explorer.ui.bridge import plotly_chart
from explorer.ui.context import KINDS, LABELS, current_view
from explorer.ui.text import plain
from explorer.ui.widgets import show_image, show_strip
from training import paths

PRIOR_SAMPLES = 32

view = current_view()
test, models = view.dataset.test, widgets.pair_models(view)
st.title("AE vs VAE")
st.caption(
    "Pick two test images. Each model interpolates between its own codes for them; the strips show what "
    "each decoder makes of the space in between."
)

# --- endpoints ---------------------------------------------------------------------------------
modes = ["by index", "picked on the map"]
if "phase" in test.factors:
    modes.insert(0, "by phase")
elif test.y is not None:
    modes.insert(0, "by class")
urlstate.seed("ends_mode", modes[0], options=modes)
mode = st.radio("Choose the endpoints", modes, horizontal=True, key="ends_mode")
ends = st.columns(2)
if mode == "by phase":
    a, b = endpoints.phase_pair(
        view, ends, ("phase_a", "phase_b"), ("A: phase", "B: phase"), "0 new, 0.1 crescent, 0.25 half, 0.5 full"
    )
elif mode == "by class":
    a, b = endpoints.class_pair(view, ends)
else:
    a, b = endpoints.index_pair(view, ends, ("idx_a", "idx_b"), ("A: test item", "B: test item"))
    if mode == "picked on the map":
        st.radio("A click on the map sets", ["A", "B"], horizontal=True, key="click_sets")

settings = st.columns(4)
urlstate.seed("steps", 11, 3, 21)
steps = settings[0].slider("Steps", 3, 21, key="steps")
urlstate.seed("interp", list(paths.INTERPOLATIONS)[0], options=list(paths.INTERPOLATIONS))
method = settings[1].radio("Path", list(paths.INTERPOLATIONS), horizontal=True, key="interp")
urlstate.seed("vae_codes", "posterior mean", options=["posterior mean", "sample"])
vae_mode = settings[2].radio(
    "VAE endpoints",
    ["posterior mean", "sample"],
    horizontal=True,
    key="vae_codes",
    help="sample: z = mean + std · ε with one fixed noise vector ε for both endpoints",
)
urlstate.seed("noise_seed", 0, 0, 10_000)
noise_seed = settings[3].number_input("noise seed", 0, 10_000, key="noise_seed", disabled=vae_mode != "sample")

# --- paths -----------------------------------------------------------------------------------------
noise = analyses.endpoint_noise(view.latent_dim, noise_seed) if vae_mode == "sample" else None
interps = analyses.interpolate(models, view.codes, a, b, steps, method, noise)
st.markdown(
    f"**A** = test item {a} ({plain(view.describe_item(a))}) → **B** = test item {b} ({plain(view.describe_item(b))})"
)
for col, item, name in zip(st.columns([1, 1, 6]), (a, b), "AB"):
    with col:
        show_image(test.x[item].numpy(), name, target=72)
for kind in KINDS:
    st.markdown(f"**{LABELS[kind]}**: {steps} steps, {method}, in its own latent space")
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
label, summary = analyses.score_summary(distances, scores, bank.is_proxy)
plotly_chart(step_distances(distances, label), key="step_chart", where=chart_col)
text_col.caption(summary)

png, gif = analyses.export_strips({k: i.strip for k, i in interps.items()})
export = st.container(horizontal=True)  # buttons as wide as their labels, wrapping in a narrow window
export.download_button("Strips as PNG", png, "interpolation.png", "image/png", key="dl_png")
export.download_button("Animation as GIF (AE | VAE)", gif, "interpolation.gif", "image/gif", key="dl_gif")

# --- prior samples --------------------------------------------------------------------------------
st.subheader("Prior samples", help=analyses.METRIC_HELP["proxy"])
st.caption(
    "The VAE was trained so that N(0, I) codes decode to data. The AE has no prior: we try a Gaussian fitted to its "
    "training codes, and N(0, I) as well, which is the VAE's prior and means nothing in particular to the AE."
)
urlstate.seed("prior_seed", 0, 0, 10_000)
seed = st.number_input("sample seed", 0, 10_000, key="prior_seed")
sets = analyses.prior_sets(models, view.train_codes("ae").mean, PRIOR_SAMPLES, seed)  # cached training codes
scores = [float(analyses.nearest_distance(s.decoded, view.train_bank()).mean()) for s in sets]
widgets.prior_grids(sets, scores, "; mean MSE to nearest training image {:.4f}")

# --- explanation -----------------------------------------------------------------------------------
with st.expander("What the VAE does differently, with this pair's numbers", expanded=True):
    story = analyses.endpoint_story(models, view.codes, test.x[a], a)
    st.markdown(analyses.VAE_STORY)
    st.markdown(story.describe(a))
