"""Half-moon lab: measure, on moons of known phase, what each model decodes between its codes."""

import numpy as np
import streamlit as st

from explorer import figures, images, latents, verdict
from explorer.ui import cache
from explorer.ui.context import KINDS, LABELS, current_view
from explorer.ui.widgets import show_strip
from training import moons
from training.metrics import manifold_distance, path_scores
from training.store import find_sets

HOLE_GRID = 64
PRIOR_SAMPLES = 1000

view = current_view()
test = view.dataset.test
bank = cache.bank(view.path, view.stamp)
is_moons = "phase" in test.factors
st.title("Half-moon lab")
st.caption(
    "Distance = mean squared pixel error of a decoded image to the closest of "
    + (f"{bank.description}: 0 means a real moon." if not bank.is_proxy else f"the {bank.description}.")
)
if bank.is_proxy:
    st.info("This pair is not trained on moons: every distance below is to the nearest training image, a proxy.")

# Regime shortcuts: switch the sidebar's pair to the bundled moons pair of that regime.
regimes = [r for r in ("sparse", "gap", "full") if f"moons-{r}-2d" in find_sets("pair")]
if is_moons and regimes:
    current = view.pair["vae"].config.data.regime

    def switch_regime() -> None:
        st.session_state["pair"] = f"moons-{st.session_state['lab_regime']}-2d"
        st.session_state["dataset"] = "moons"

    if view.pair_id in {f"moons-{r}-2d" for r in regimes}:
        st.session_state["lab_regime"] = current
    st.radio(
        "Training regime (bundled 2-D pairs)",
        regimes,
        horizontal=True,
        key="lab_regime",
        on_change=switch_regime,
        help="sparse: only crescents and full moons; gap: no phases near a half moon; full: every phase",
    )

cols = st.columns(3)
if is_moons:
    phase_a = cols[0].number_input("From phase", 0.0, 1.0, 0.1, 0.01, key="lab_a", bind="query-params")
    phase_b = cols[1].number_input("To phase", 0.0, 1.0, 0.5, 0.01, key="lab_b", bind="query-params")
    a = latents.nearest_phase_item(test.factors["phase"], phase_a)
    b = latents.nearest_phase_item(test.factors["phase"], phase_b)
else:
    a = cols[0].number_input("From test item", 0, len(test) - 1, 0, key="lab_ia", bind="query-params")
    b = cols[1].number_input("To test item", 0, len(test) - 1, 1, key="lab_ib", bind="query-params")
steps = cols[2].slider("Steps", 5, 21, 11, key="lab_steps", bind="query-params")

# --- interpolation -------------------------------------------------------------------------------
paths, strips, scores = {}, {}, {}
for kind in KINDS:
    codes = view.codes[kind].mean
    paths[kind] = latents.lerp(codes[a], codes[b], steps).astype(np.float32)
    strips[kind] = latents.decode(view.model(kind), paths[kind])
    scores[kind] = path_scores(strips[kind], bank)

st.subheader(f"{view.describe_item(a)} → {view.describe_item(b)}".capitalize())
for kind in KINDS:
    s = scores[kind]
    extra = f", smoothness {s['smoothness']:.2f}" if "smoothness" in s else ""
    st.markdown(f"**{LABELS[kind]}** — mean distance {s['mean_distance']:.4f}, max {s['max_distance']:.4f}{extra}")
    show_strip(strips[kind], target=56)
if is_moons:
    start, end = test.factors["phase"][a], test.factors["phase"][b]
    truth = moons.render(np.linspace(start, end, steps), view.dataset.image_shape[-1])[:, None]
    st.markdown("**True renders** at evenly spaced phases between the endpoints")
    show_strip(truth, target=56)

chart_col, text_col = st.columns([3, 2])
with chart_col:
    st.plotly_chart(
        figures.step_distances({LABELS[k]: np.array(scores[k]["distances"]) for k in KINDS}, "distance"),
        key="lab_step_chart",
    )
with text_col:
    if is_moons:
        rows = [
            {"step": i, **{f"{LABELS[k]} phase": round(scores[k]["phases"][i], 3) for k in KINDS}} for i in range(steps)
        ]
        st.dataframe(rows, hide_index=True, height=260)

# --- hole maps ----------------------------------------------------------------------------------
st.subheader("Hole maps")
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
    key_a, key_b = (0, 0) if two_d else (int(a), int(b))
    grid, dist = cache.hole_distances(view.path, view.stamp, kind, key_a, key_b, HOLE_GRID)
    codes = view.codes[kind].mean
    on_plane = latents.plane_coordinates(paths[kind], codes[a], codes[b])
    panels.append(
        figures.HolePanel(
            f"{LABELS[kind]}: mean distance {dist.mean():.4f}",
            dist,
            grid.xs,
            grid.ys,
            codes=codes if two_d else None,
            path=on_plane,
            axis_titles=grid.axis_titles,
        )
    )
st.plotly_chart(figures.hole_maps(panels, "distance"), key="hole_maps")

# --- prior samples --------------------------------------------------------------------------------
st.subheader("Prior samples")
seed = st.number_input("seed", 0, 10_000, 0, key="lab_seed", bind="query-params")
train_codes_ae = view.train_codes("ae").mean  # cached, not re-encoded on every rerun
sources = {
    ("vae", "N(0, I)"): latents.prior_codes(view.latent_dim, PRIOR_SAMPLES, seed),
    ("ae", "Gaussian fitted to its codes"): latents.prior_codes(
        view.latent_dim, PRIOR_SAMPLES, seed, latents.fit_gaussian(train_codes_ae)
    ),
    ("ae", "N(0, I)"): latents.prior_codes(view.latent_dim, PRIOR_SAMPLES, seed),
}
validity = {}
cols = st.columns(3)
for col, ((kind, source), z) in zip(cols, sources.items()):
    decoded = latents.decode(view.model(kind), z)
    validity[(kind, source)] = float(manifold_distance(decoded, bank)[0].mean())
    with col:
        st.image(
            images.upscale(images.grid(decoded[:24], 8), images.display_scale(decoded.shape[-1], 40)),
            caption=f"{LABELS[kind]}, z ~ {source}: validity {validity[(kind, source)]:.4f} "
            f"(mean distance of {PRIOR_SAMPLES:,} samples)",
            width="stretch",
        )

# --- verdict ------------------------------------------------------------------------------------------
st.subheader("What this pair shows")
lines = [
    verdict.path_verdict(scores["ae"]["mean_distance"], scores["vae"]["mean_distance"], bank.is_proxy),
    verdict.prior_verdict(
        validity[("vae", "N(0, I)")], validity[("ae", "Gaussian fitted to its codes")], validity[("ae", "N(0, I)")]
    ),
]
if is_moons:
    lines.insert(1, verdict.half_moon_verdict({LABELS[k]: scores[k]["passes_half_moon"] for k in KINDS}))
for line in lines:
    st.markdown(f"- {line}")
st.caption("Built from the numbers on this page; `python -m training lab` measures the same over seeds and regimes.")
