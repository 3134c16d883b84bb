"""Decoder: one slider per latent dimension; the decoded image follows on release."""

import numpy as np
import streamlit as st

from explorer import analyses, images, latents
from explorer.ui.context import KINDS, LABELS, current_view
from explorer.ui.widgets import QP, pair_models, pick_index, picked_codes, point_map, show_image, show_nearest

view = current_view()
st.title("Decoder")
st.caption(
    "Move a slider and the decoder draws that code. Beside it, the nearest training images: "
    "is the decoder making something new, or copying?"
)

kind = st.radio("Model", KINDS, format_func=LABELS.get, horizontal=True, index=1, key="dec_model", bind=QP)
model = view.model(kind)
codes = view.codes[kind]
ranges = latents.slider_ranges(codes, model.is_variational)
dims = latents.most_active_dims(codes)
start = picked_codes(view)[kind]

# New starting point (another item, pair or model): move the sliders there.
# A URL that carries slider values (a shared link) wins on the first run.
origin = (view.pair_id, kind, pick_index(view), tuple(np.round(start, 6)))
first_run = "decoder_origin" not in st.session_state
from_url = first_run and any(f"z{d}" in st.query_params for d in dims)
if st.session_state.get("decoder_origin") != origin:
    st.session_state["decoder_origin"] = origin
    for d in () if from_url else dims:
        st.session_state[f"z{d}"] = float(np.clip(start[d], *ranges[d]))


@st.fragment
def decoder_panel() -> None:
    """Reruns alone when a slider moves: the rest of the page is not recomputed."""
    left, middle, right = st.columns([1.1, 1, 1.6])
    z = start.astype(np.float32).copy()
    with left:
        note = (
            f"the {len(dims)} most active of {view.latent_dim} dimensions; the rest stay at the start code"
            if view.latent_dim > latents.MAX_SLIDERS
            else f"{view.latent_dim} dimensions"
        )
        span = "the prior's ±3σ." if model.is_variational else "the codes' range + 10%."
        st.caption(f"{LABELS[kind]}: {note}. Range: {span}")
        for d in dims:
            lo, hi = (float(v) for v in ranges[d])
            z[d] = st.slider(f"z{d}", lo, hi, step=(hi - lo) / 200, key=f"z{d}", bind=QP)
    image = latents.decode(model, z[None])[0]
    with middle:
        show_image(image, f"{LABELS[kind]} decodes ({latents.format_code(z[dims], 4)})", target=240)
    with right:
        show_nearest(view, image, "**Nearest training images** (mean squared pixel distance)")
    projected = "" if view.latent_dim == 2 else " (PCA)"
    st.caption(f"The {LABELS[kind]}'s test codes{projected}; the cross marks the sliders' code.")
    point_map(view, kind, z, "decoder_map")


decoder_panel()

st.subheader("Traversal grid")
st.caption(
    "Decodes of a grid over two dimensions through the start code: the VAE's grid follows the Gaussian's inverse CDF, "
    "the AE's the quantiles of its own codes (it has no prior to follow)."
)
d_cols = st.columns([1, 1, 1, 3])
all_dims = list(range(view.latent_dim))
dim_a = d_cols[0].selectbox("rows: dimension", all_dims, index=int(dims[0]), key="grid_a", bind=QP)
dim_b = d_cols[1].selectbox(
    "columns: dimension", all_dims, index=int(dims[min(1, len(dims) - 1)]), key="grid_b", bind=QP
)
size = d_cols[2].slider("grid size", 3, 15, 9, key="grid_n", bind=QP)
if dim_a == dim_b and view.latent_dim > 1:
    st.info("Choose two different dimensions.")
else:
    grids = analyses.traversal_grids(pair_models(view), view.codes, picked_codes(view), (dim_a, dim_b), size)
    for col, k in zip(st.columns(2), KINDS):
        scale = max(1, 360 // (size * grids[k].shape[-1]))
        picture = images.upscale(images.grid(grids[k], size), scale)
        col.image(picture, caption=f"{LABELS[k]}: z{dim_a} down, z{dim_b} across", width=picture.shape[1])
