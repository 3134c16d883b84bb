"""Half-moon lab: measure, on moons of known phase, what each model decodes between its codes."""

import numpy as np
import streamlit as st

from explorer import analyses, figures
from explorer.ui import cache, urlstate
from explorer.ui.bridge import plotly_chart
from explorer.ui.context import KINDS, LABELS, current_view
from explorer.ui.endpoints import index_pair, phase_pair
from explorer.ui.lab_sections import lab_over_seeds, regime_switch, whole_line
from explorer.ui.text import plain
from explorer.ui.widgets import pair_models, prior_grids, show_strip

HOLE_GRID = 64
PRIOR_SAMPLES = 1000

view = current_view()
test, models = view.dataset.test, pair_models(view)
bank = cache.bank(view.path, view.stamp)
is_moons = "phase" in test.factors
st.title("Half-moon lab")
st.caption(analyses.distance_caption(bank))
if bank.is_proxy:
    st.info("This pair is not trained on moons: every distance below is to the nearest training image, a proxy.")
if is_moons:
    regime_switch(view)  # shortcuts to the bundled moons pairs

cols = st.columns(3)
if is_moons:
    a, b = phase_pair(view, cols, ("lab_a", "lab_b"), ("From phase", "To phase"))
else:
    a, b = index_pair(view, cols, ("lab_ia", "lab_ib"), ("From test item", "To test item"))
urlstate.seed("lab_steps", 11, 5, 21)
steps = cols[2].slider("Steps", 5, 21, key="lab_steps")

# --- interpolation -------------------------------------------------------------------------------
interps = analyses.interpolate(models, view.codes, a, b, steps)
scores = analyses.scored_paths(interps, bank)
ends = f"{view.describe_item(a)} → {view.describe_item(b)}"
st.subheader(plain(ends.capitalize()))
HELP = analyses.METRIC_HELP
for kind in KINDS:
    s = scores[kind]
    extra = f", smoothness {s['smoothness']:.2f}" if "smoothness" in s else ""
    told = analyses.metric_help("distance", "max_distance", *(["smoothness"] if extra else []))
    line = f"**{LABELS[kind]}** — mean distance {s['mean_distance']:.4f}, max {s['max_distance']:.4f}{extra}"
    st.markdown(line, help=told)
    show_strip(interps[kind].strip, target=56)
if is_moons:
    phases = test.factors["phase"]
    st.markdown("**True renders** at evenly spaced phases between the endpoints")
    show_strip(analyses.true_renders(phases[a], phases[b], steps, view.dataset.image_shape[-1]), target=56)

chart_col, text_col = st.columns([3, 2])
distances = {LABELS[k]: np.array(scores[k]["distances"]) for k in KINDS}
plotly_chart(figures.step_distances(distances, "distance"), key="lab_step_chart", where=chart_col)
if is_moons:
    rows = [
        {"step": i, **{f"{LABELS[k]} phase": round(scores[k]["phases"][i], 3) for k in KINDS}} for i in range(steps)
    ]
    text_col.dataframe(rows, hide_index=True, height=260)

# --- hole maps ----------------------------------------------------------------------------------
st.subheader("Hole maps", help=HELP["distance"])
two_d = view.latent_dim == 2
st.caption(
    "Every cell is a decoded code, coloured by its distance: dark cells decode to something real, bright cells "
    "are holes. "
    + (
        "The grid covers the codes' extent plus 10%."
        if two_d
        else "The plane goes through the endpoints' codes (A at u = −1, B at u = +1) and a random orthogonal direction."
    )
)
panels = []
for kind in KINDS:
    key_a, key_b = (0, 0) if two_d else (int(a), int(b))  # a 2-D grid is the whole plane, whatever the endpoints
    grid, dist = cache.hole_distances(view.path, view.stamp, kind, key_a, key_b, HOLE_GRID)
    title = f"{LABELS[kind]}: mean distance {dist.mean():.4f}"
    panels.append(
        analyses.hole_panel(title, grid, dist, view.codes[kind].mean, interps[kind].path, a, b, f"path: {ends}")
    )
plotly_chart(figures.hole_maps(panels, "distance"), key="hole_maps")

# --- prior samples --------------------------------------------------------------------------------
st.subheader("Prior samples", help=HELP["validity"])
urlstate.seed("lab_seed", 0, 0, 10_000)
seed = st.number_input("seed", 0, 10_000, key="lab_seed")
sets = analyses.prior_sets(models, view.train_codes("ae").mean, PRIOR_SAMPLES, seed)  # cached training codes
validity = analyses.prior_validity(sets, bank)
prior_grids(sets, validity, f": validity {{:.4f}} (mean distance of {PRIOR_SAMPLES:,} samples)", limit=24)

# --- verdict ------------------------------------------------------------------------------------------
st.subheader("What this pair shows")
by_source = {(s.kind, s.source): v for s, v in zip(sets, validity)}
for line in analyses.lab_verdicts(scores, by_source, bank, LABELS):
    st.markdown(f"- {line}")
st.caption("Built from the numbers on this page; `python -m training lab` measures the same over seeds and regimes.")

# --- the lab over seeds, and a 1-D decoder's whole line --------------------------------------------
if is_moons:
    lab_over_seeds(view)
if view.latent_dim == 1:
    whole_line(view, models, bank)
