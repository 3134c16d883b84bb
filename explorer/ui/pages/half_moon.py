"""Half-moon lab: measure, on moons of known phase, what each model decodes between its codes."""

import numpy as np
import streamlit as st

from explorer import analyses, figures
from explorer.ui import cache, urlstate, waiting
from explorer.ui.bridge import plotly_chart
from explorer.ui.context import KINDS, LABELS, current_view
from explorer.ui.endpoints import index_pair, phase_pair
from explorer.ui.lab_sections import lab_over_seeds, phase_density, regime_switch, whole_line
from explorer.ui.lang import t
from explorer.ui.text import plain
from explorer.ui.widgets import pair_models, prior_grids, show_strip

HOLE_GRID = 64
PRIOR_SAMPLES = 1000

view = current_view()
st.title(t("nav_lab"))
view.needs("pair")
test, models = view.dataset.test, pair_models(view)
bank = cache.bank(view.path, view.stamp)
is_moons = "phase" in test.factors
st.caption(analyses.distance_caption(bank, t=t))
if bank.is_proxy:
    st.info(t("lab_proxy_note"))
if is_moons:
    regime_switch(view)  # shortcuts to the bundled moons pairs

cols = st.columns(3)
if is_moons:
    a, b = phase_pair(view, cols, ("lab_a", "lab_b"), (t("lab_from_phase"), t("lab_to_phase")))
else:
    a, b = index_pair(view, cols, ("lab_ia", "lab_ib"), (t("lab_from_item"), t("lab_to_item")))
urlstate.seed("lab_steps", 11)
steps = cols[2].slider(t("cmp_steps"), *urlstate.bounds("lab_steps"), key="lab_steps")

# --- interpolation -------------------------------------------------------------------------------
interps = analyses.interpolate(models, view.codes, a, b, steps)
scores = analyses.scored_paths(interps, bank)
ends = f"{view.describe_item(a)} → {view.describe_item(b)}"
st.subheader(plain(ends[:1].upper() + ends[1:]))
for kind in KINDS:
    s = scores[kind]
    extra = t("lab_smoothness", value=s["smoothness"]) if "smoothness" in s else ""
    told = analyses.metric_help("distance", "max_distance", *(["smoothness"] if extra else []), t=t)
    line = t("lab_path_line", model=LABELS[kind], mean=s["mean_distance"], max=s["max_distance"], extra=extra)
    st.markdown(line, help=told)
    show_strip(interps[kind].strip, target=56)
if is_moons:
    phases = test.factors["phase"]
    st.markdown(t("lab_true_renders"))
    show_strip(analyses.true_renders(phases[a], phases[b], steps, view.dataset.image_shape[-1]), target=56)

chart_col, text_col = st.columns([3, 2])
distances = {LABELS[k]: np.array(scores[k]["distances"]) for k in KINDS}
plotly_chart(figures.step_distances(distances, t("fig_distance"), t=t), key="lab_step_chart", where=chart_col)
if is_moons:
    rows = [
        {t("fig_step"): i, **{t("lab_phase_col", model=LABELS[k]): round(scores[k]["phases"][i], 3) for k in KINDS}}
        for i in range(steps)
    ]
    text_col.dataframe(rows, hide_index=True, height=260)

# --- hole maps ----------------------------------------------------------------------------------
st.subheader(t("lab_holes"), help=t("help_distance"))
two_d = view.latent_dim == 2
st.caption(t("lab_holes_lead") + " " + t("lab_holes_2d" if two_d else "lab_holes_plane"))
key_a, key_b = (0, 0) if two_d else (int(a), int(b))  # a 2-D grid is the whole plane, whatever the endpoints
maps = [("hole_map", (view.path, view.stamp, kind, key_a, key_b, HOLE_GRID)) for kind in KINDS]
computed = waiting.results(maps, "long_task_hole_map", "holes")  # None: its progress shows, the rest goes on
if computed is not None:
    panels = []
    for kind, (grid, dist) in zip(KINDS, computed):
        title = t("lab_hole_title", model=LABELS[kind], mean=dist.mean())
        panels.append(
            analyses.hole_panel(
                title, grid, dist, view.codes[kind].mean, interps[kind].path, a, b, t("lab_path_name", ends=ends)
            )
        )
    plotly_chart(figures.hole_maps(panels, t("fig_distance"), t=t), key="hole_maps")

# --- prior samples --------------------------------------------------------------------------------
st.subheader(t("cmp_prior"), help=t("help_validity"))
urlstate.seed("lab_seed", 0)
seed = st.number_input(t("lab_seed"), *urlstate.bounds("lab_seed"), key="lab_seed")
sets = analyses.prior_sets(models, view.train_codes("ae").mean, PRIOR_SAMPLES, seed)  # cached training codes
validity = analyses.prior_validity(sets, bank)
prior_grids(sets, validity, t("lab_validity", n=PRIOR_SAMPLES, value="{:.4f}"), limit=24)

# --- verdict ------------------------------------------------------------------------------------------
st.subheader(t("lab_shows"))
by_source = {(s.kind, s.source): v for s, v in zip(sets, validity)}
for line in analyses.lab_verdicts(scores, by_source, bank, LABELS, t=t):
    st.markdown(f"- {line}")
st.caption(t("lab_shows_note"))

# --- the lab over seeds, and a 1-D decoder's whole line --------------------------------------------
if is_moons:
    lab_over_seeds(view)
    phase_density()
if view.latent_dim == 1:
    whole_line(view, models, bank)
