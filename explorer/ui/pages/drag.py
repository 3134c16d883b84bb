"""Drag to decode: the decoded image follows the pointer, not just the release."""

import numpy as np
import streamlit as st

from explorer import latents
from explorer.ui.context import KINDS, LABELS, current_view
from explorer.ui.drag import browser_can_decode, component_value, drag_component
from explorer.ui.widgets import QP, pad_bounds, picked_codes, point_colours, show_image, show_nearest

PAD_POINTS = 1500

view = current_view()
st.title("Drag to decode")
st.caption(
    "Drag a slider, or (2-D latents) drag across the latent pad: the decoder draws every position as you move. "
    "Let go and the rest of the page (nearest training images, the URL) follows."
)
top = st.columns([1, 1, 2])
kind = top[0].radio("Model", KINDS, format_func=LABELS.get, horizontal=True, index=1, key="drag_model", bind=QP)
model = view.model(kind)
can_browser = browser_can_decode(model)
in_server = top[1].toggle(
    "Decode on the server",
    value=not can_browser,
    disabled=not can_browser,
    key="drag_server",
    bind=QP,
    help="The MLP decoders run in your browser; other decoders stream values to the server while you drag.",
)
server = in_server or not can_browser
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
dims = latents.most_active_dims(codes)
# Where a code from the browser, a typed field or the URL may lie.
# Generous (ten times the larger of them around 0): empty space far out stays reachable, 1e308 does not.
_reach = 10 * np.maximum(np.abs(ranges).max(1), np.abs(np.stack(latents.padded_bounds(codes.mean, 0.15))).max(0))
z_box = (-np.maximum(_reach, 1.0), np.maximum(_reach, 1.0))


def typed_code(text: str | None) -> np.ndarray | None:
    """A code typed or pasted as text: dim finite numbers, clamped into the box; else None."""
    z = latents.parse_code(text if text is None or len(text) <= 4096 else None, view.latent_dim)
    return None if z is None else np.clip(z, *z_box)


# The current code per pair and model: the last released or typed value, else the URL's, else the picked code.
state = st.session_state.setdefault("drag_state", {})
origin = f"{view.pair_id}:{kind}"
if origin not in state:
    from_url = typed_code(st.session_state.get("dz") or st.query_params.get("dz"))
    state[origin] = {"z": picked_codes(view)[kind].astype(np.float64) if from_url is None else from_url, "seen": {}}
current = state[origin]


def adopt(result, key: str) -> None:
    """A newly released (or streamed) value from a component becomes the current code."""
    value = getattr(result, "z", None)
    if value is None or current["seen"].get(key) == value:
        return
    current["seen"][key] = value
    z = component_value(value, len(current["z"]), *z_box)
    if z is not None:  # anything else from the browser is ignored: NaN is never stored
        current["z"] = z


def adopt_typed() -> None:
    """Code text edited by hand (or a pasted URL) moves the current code."""
    text = st.session_state.get("dz")
    typed = typed_code(text)
    if text != current.get("text") and typed is not None:
        current["z"] = typed


@st.fragment
def drag_panel() -> None:
    adopt_typed()
    z = current["z"]
    payload = {"dims": dims, "ranges": ranges[dims], "base": z, "value": z, "signature": ",".join(map(str, dims))}
    models = [(LABELS[kind], model)]
    adopt(drag_component(f"drag_sliders_{kind}", "sliders", models, payload, "z", in_browser=not server), "sliders")
    if view.latent_dim == 2:
        take, cols = point_colours(view, PAD_POINTS)
        st.markdown(
            f"**Latent pad**: the {LABELS[kind]}'s codes underneath; drag anywhere, on a code or in empty space."
        )
        pad = {"bounds": pad_bounds(codes.mean, 0.15), "points": codes.mean[take], "colours": cols, "value": z[:2]}
        adopt(drag_component(f"drag_pad_{kind}", "pad", models, pad, "z", in_browser=not server), "pad")
    z = current["z"]
    st.session_state["dz"] = current["text"] = latents.code_param(z)  # the URL follows through the bound input
    image = latents.decode(model, z[None])[0]
    cols = st.columns([1, 3])
    with cols[0]:  # the bound input first: the URL is updated before the new image shows
        st.text_input("Code", key="dz", bind=QP, help="comma-separated, one value per latent dimension; edit to jump")
        where = "server" if server else "released"
        show_image(image, f"{where}: {LABELS[kind]} decodes ({latents.format_code(z, 4)})", target=140)
    with cols[1]:
        show_nearest(view, image, "**Nearest training images** to the released code's decode")


drag_panel()
