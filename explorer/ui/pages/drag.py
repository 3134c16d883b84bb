"""Drag to decode: the decoded image follows the pointer, not just the release."""

import numpy as np
import streamlit as st

from explorer import latents
from explorer.ui.context import KINDS, LABELS, current_view
from explorer.ui.drag import browser_can_decode, component_value, drag_component
from explorer.ui.widgets import nearest_training, picked_codes, point_colours, show_image

MAX_SLIDERS = 8
PAD_POINTS = 1500

view = current_view()
st.title("Drag to decode")
st.caption(
    "Drag a slider, or (2-D latents) drag across the latent pad: the decoder draws every position as you move. "
    "Let go and the rest of the page (nearest training images, the URL) follows."
)
top = st.columns([1, 1, 2])
kind = top[0].radio(
    "Model", KINDS, format_func=LABELS.get, horizontal=True, index=1, key="drag_model", bind="query-params"
)
model = view.model(kind)
can_browser = browser_can_decode(model)
server = (
    top[1].toggle(
        "Decode on the server",
        value=not can_browser,
        disabled=not can_browser,
        key="drag_server",
        bind="query-params",
        help="The MLP decoders run in your browser; other decoders stream values to the server while you drag.",
    )
    or not can_browser
)
top[2].caption(
    (
        "Mode: server decoding — values stream while you drag (at most 10 a second) and only this panel reruns."
        if server
        else "Mode: in-browser decoding — the MLP decoder's weights were sent once; every move decodes here."
    )
    + " If the controls below do not appear, the Decoder page's native sliders do the same on release."
)

codes = view.codes[kind]
ranges = latents.slider_ranges(codes, model.is_variational)
dims = latents.most_active_dims(codes, MAX_SLIDERS)
start = picked_codes(view)[kind].astype(np.float64)

# Where a code from the browser may lie: the sliders' ranges and the pad's box, whichever is wider.
_pad = 0.15 * (codes.mean.max(0) - codes.mean.min(0))
z_box = (np.minimum(ranges[:, 0], codes.mean.min(0) - _pad), np.maximum(ranges[:, 1], codes.mean.max(0) + _pad))

# The current code: the last released value for this pair/model, or the URL's, or the picked code.
origin = f"{view.pair_id}:{kind}"
state = st.session_state.setdefault("drag_state", {})
if origin not in state:
    from_url = st.query_params.get("dz")
    z0 = start.copy()
    if from_url:
        try:
            values = component_value([float(v) for v in from_url.split(",")[: len(start) + 1]], len(start), *z_box)
        except ValueError:
            values = None
        z0 = start.copy() if values is None else values
    state[origin] = {"z": z0, "seen": {}}
current = state[origin]


def adopt(result, key: str) -> None:
    """A newly released (or streamed) value from a component becomes the current code."""
    value = getattr(result, "z", None)
    if value is None or current["seen"].get(key) == value:
        return
    current["seen"][key] = value
    n = len(current["z"])
    z = component_value(value, n, *z_box)
    if z is not None:  # anything else from the browser is ignored: NaN is never stored
        current["z"] = z


@st.fragment
def drag_panel() -> None:
    z = current["z"]
    result = drag_component(
        f"drag_sliders_{kind}",
        "sliders",
        [(LABELS[kind], model)],
        {"dims": dims, "ranges": ranges[dims], "base": z, "value": z, "signature": ",".join(map(str, dims))},
        "z",
        in_browser=not server,
    )
    adopt(result, "sliders")
    if view.latent_dim == 2:
        lo, hi = codes.mean.min(0), codes.mean.max(0)
        pad = 0.15 * (hi - lo)
        take, cols = point_colours(view, PAD_POINTS)
        st.markdown(
            f"**Latent pad**: the {LABELS[kind]}'s codes underneath; drag anywhere, on a code or in empty space."
        )
        result = drag_component(
            f"drag_pad_{kind}",
            "pad",
            [(LABELS[kind], model)],
            {
                "bounds": [lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1]],
                "points": codes.mean[take],
                "colours": cols,
                "value": current["z"][:2],
            },
            "z",
            in_browser=not server,
        )
        adopt(result, "pad")
    z = current["z"]
    st.query_params["dz"] = ",".join(f"{v:.4f}" for v in z)
    image = latents.decode(model, z[None])[0]
    cols = st.columns([1, 3])
    with cols[0]:
        show_image(
            image,
            f"{'server' if server else 'released'}: {LABELS[kind]} decodes ("
            + ", ".join(f"{v:.2f}" for v in z[:4])
            + (" …)" if len(z) > 4 else ")"),
            target=140,
        )
    with cols[1]:
        idx, dist = nearest_training(view, image, k=5)
        st.markdown("**Nearest training images** to the released code's decode")
        for col, i, d in zip(st.columns(5), idx, dist):
            with col:
                show_image(view.dataset.train.x[i].numpy(), f"{d:.4f}", target=64)


drag_panel()
