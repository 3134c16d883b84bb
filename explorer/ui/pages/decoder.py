"""Decoder: one slider per latent dimension; the decoded image follows on release."""

import numpy as np
import streamlit as st

from explorer import analyses, images, latents
from explorer.ui import urlstate
from explorer.ui.context import LABELS, PageEnd, current_view, describe_projection, projection_progress
from explorer.ui.drag import point_map, point_map_data
from explorer.ui.lang import t
from explorer.ui.widgets import picked_codes, show_image, show_nearest

view = current_view()
st.title(t("nav_decoder"))
st.caption(t("dec_lead"))
view.needs("decoder")
projection_progress(view)  # a >2-D pair's map: PCA until the URL's slow projection has fitted

urlstate.seed("dec_model", view.decoding[-1], options=view.decoding)  # the VAE when there is one
kind = st.radio(t("dec_model"), view.decoding, format_func=LABELS.get, horizontal=True, key="dec_model")
model = view.model(kind)
codes = view.codes.get(kind)  # None: a decoder without its encoder, explored over the prior
ranges, dims = latents.slider_setup(codes, model.is_variational, view.latent_dim)
start = picked_codes(view)[kind]

# New starting point (another item, pair or model): move the sliders there. On the first run the
# values restored from the URL (a shared link, Back) stay; absent ones start at the start code.
origin = (view.pair_id, kind, tuple(np.round(start, 6)))
if st.session_state.get("_origin_decoder", origin) != origin:
    for d in dims:
        st.session_state.pop(f"z{d}", None)
st.session_state["_origin_decoder"] = origin
for d in dims:
    urlstate.seed(f"z{d}", float(np.clip(start[d], *ranges[d])), *(float(v) for v in ranges[d]))
# Looked up once a page run, not on every slider move (the fragment below reruns alone)
bank = view.train_bank()
map_data = None if codes is None else point_map_data(view, kind)


@st.fragment
def decoder_panel() -> None:
    """Reruns alone when a slider moves: the rest of the page is not recomputed."""
    left, middle, right = st.columns([1.1, 1, 1.6])
    z = start.astype(np.float32).copy()
    with left:
        note = (
            t("dec_dims_some", n=len(dims), dim=view.latent_dim)
            if view.latent_dim > latents.MAX_SLIDERS
            else t("dec_dims_all", dim=view.latent_dim)
        )
        span = t("dec_span_prior" if model.is_variational or codes is None else "dec_span_codes")
        st.caption(t("dec_sliders", model=LABELS[kind], note=note, span=span))
        for d in dims:
            lo, hi = (float(v) for v in ranges[d])
            z[d] = st.slider(f"z{d}", lo, hi, step=(hi - lo) / 200, key=f"z{d}")
    urlstate.publish()  # a fragment rerun: the URL follows the sliders, before the new image is drawn
    image = latents.decode(model, z[None])[0]
    with middle:
        show_image(image, t("dec_decodes", model=LABELS[kind], code=latents.format_code(z[dims], 4)), target=240)
    with right:
        show_nearest(view, image, t("dec_nearest"), bank)
    if codes is None:
        st.caption(t("dec_no_encoder", model=LABELS[kind]))
        return
    projected = "" if view.latent_dim == 2 else f" ({describe_projection(*view.shown_projection())})"
    st.caption(t("dec_map", model=LABELS[kind], projected=projected))
    point_map(map_data, t("map_panel", model=LABELS[kind]), z, "decoder_map")


decoder_panel()

st.subheader(t("dec_grid"))
st.caption(t("dec_grid_lead"))
gridded = [k for k in view.encoding if k in view.decoding]  # traversals run through a picked item's code
if not gridded:
    st.info(t("dec_grid_needs"), icon=":material/info:")
    raise PageEnd
d_cols = st.columns([1, 1, 1, 3])
all_dims = list(range(view.latent_dim))
top = latents.most_active_dims(view.codes[gridded[-1]], 2)  # the VAE's two most active: a collapsed one shows nothing
urlstate.seed("grid_a", int(top[0]), options=all_dims)
urlstate.seed("grid_b", int(top[-1]), options=all_dims)
dim_a = d_cols[0].selectbox(t("dec_rows"), all_dims, key="grid_a")
dim_b = d_cols[1].selectbox(t("dec_cols"), all_dims, key="grid_b")
urlstate.seed("grid_n", 9)
size = d_cols[2].slider(t("dec_grid_size"), *urlstate.bounds("grid_n"), key="grid_n")
if dim_a == dim_b and view.latent_dim > 1:
    st.info(t("dec_same_dims"))
else:
    models = {k: view.model(k) for k in gridded}
    grids = analyses.traversal_grids(models, view.codes, picked_codes(view), (dim_a, dim_b), size)
    for col, k in zip(st.columns(2), gridded):
        scale = max(1, 360 // (size * grids[k].shape[-1]))
        picture = images.upscale(images.grid(grids[k], size), scale)
        col.image(picture, caption=t("dec_grid_caption", model=LABELS[k], a=dim_a, b=dim_b), width=picture.shape[1])
