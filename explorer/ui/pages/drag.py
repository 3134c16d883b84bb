"""Drag to decode: the decoded image follows the pointer, not just the release."""

import numpy as np
import streamlit as st

from explorer import latents
from explorer.ui import urlstate
from explorer.ui.context import LABELS, current_view, projection_progress
from explorer.ui.drag import browser_can_decode, component_value, drag_component, last_value, pad_bounds, point_colours
from explorer.ui.lang import t
from explorer.ui.text import plain
from explorer.ui.widgets import picked_codes, show_image, show_nearest

PAD_POINTS = 1500

view = current_view()
st.title(t("nav_drag"))
st.caption(t("drag_lead"))
view.needs("decoder")
projection_progress(view)  # a >2-D pair's map: PCA until the URL's slow projection has fitted
top = st.columns([1, 2])  # model and mode stacked: at 800 px three columns cut the toggle's label
urlstate.seed("drag_model", view.decoding[-1], options=view.decoding)  # the VAE when there is one
kind = top[0].radio(t("dec_model"), view.decoding, format_func=LABELS.get, horizontal=True, key="drag_model")
model = view.model(kind)
can_browser = browser_can_decode(model)
urlstate.seed("drag_server", not can_browser)
in_server = top[0].toggle(
    t("drag_server"),
    disabled=not can_browser,
    key="drag_server",
    help=t("drag_server_help"),
)
server = in_server or not can_browser
top[1].caption(t("drag_mode_server" if server else "drag_mode_browser") + " " + t("drag_fallback"))

codes = view.codes.get(kind)  # None: a decoder without its encoder, explored over the prior
ranges, dims = latents.slider_setup(codes, model.is_variational, view.latent_dim)
# Where a code from the browser, a typed field or the URL may lie.
# Generous (ten times the larger of them around 0): empty space far out stays reachable, 1e308 does not.
_reach = 10 * np.abs(ranges).max(1)
if codes is not None:
    _reach = np.maximum(_reach, 10 * np.abs(np.stack(latents.padded_bounds(codes.mean, 0.15))).max(0))
z_box = (-np.maximum(_reach, 1.0), np.maximum(_reach, 1.0))


def typed_code(text: str | None) -> np.ndarray | None:
    """A code typed or pasted as text: dim finite numbers, clamped into the box; else None."""
    z = latents.parse_code(text if text is None or len(text) <= 4096 else None, view.latent_dim)
    return None if z is None else np.clip(z, *z_box)


# One value: the code (URL: dz). The pad, the sliders and the typed field all move it; each is drawn
# from it in the same run, after the newest release of either component has been adopted.
SEEN = f"_drag_seen_{kind}"
if st.session_state.get("_origin_drag", (view.pair_id, kind)) != (view.pair_id, kind):
    st.session_state.pop("dz", None)  # another pair or model: start at its code for the picked item
st.session_state["_origin_drag"] = (view.pair_id, kind)


def adopt_releases() -> None:
    """A value released (or streamed) by the sliders or the pad since the last run becomes the code."""
    seen = st.session_state.setdefault(SEEN, {})
    for key in (f"drag_sliders_{kind}", f"drag_pad_{kind}"):
        value = last_value(key, "z")
        if value is None or seen.get(key) == value:
            continue
        seen[key] = value
        z = component_value(value, view.latent_dim, *z_box)
        if z is not None:  # anything else from the browser is ignored: NaN is never stored
            st.session_state["dz"] = latents.code_param(z)


bank = view.train_bank()  # looked up once a page run, not on every move (the fragment reruns alone)


@st.fragment
def drag_panel() -> None:
    adopt_releases()
    start = latents.code_param(picked_codes(view)[kind].astype(np.float64))
    text = urlstate.seed("dz", start)
    z = typed_code(text)
    if z is None:  # an unreadable code (typed or from the URL): back to the picked item's
        st.session_state["dz"] = start
        z = typed_code(start)
    if z is None:  # the picked item's own code is not finite (a model that computes nonsense)
        st.error(t("code_not_finite", code=plain(start[:80])))
        return
    urlstate.publish()  # the URL follows the code before the new image is drawn
    payload = {"dims": dims, "ranges": ranges[dims], "base": z, "value": z, "signature": ",".join(map(str, dims))}
    models = [(LABELS[kind], model)]
    drag_component(f"drag_sliders_{kind}", "sliders", models, payload, "z", in_browser=not server)
    if view.latent_dim == 2 and codes is not None:  # the pad shows the model's codes under the pointer
        take, cols = point_colours(view, PAD_POINTS)
        st.markdown(t("drag_pad", model=LABELS[kind]))
        pad = {"bounds": pad_bounds(codes.mean, 0.15), "points": codes.mean[take], "colours": cols, "value": z[:2]}
        drag_component(f"drag_pad_{kind}", "pad", models, pad, "z", in_browser=not server)
    elif view.latent_dim == 2:  # a decoder without its encoder: no codes to draw, the pad spans the prior's box
        st.markdown(t("drag_pad_prior", model=LABELS[kind]))
        bounds = [*ranges[0], *ranges[1]]
        pad = {"bounds": bounds, "points": np.zeros((0, 2)), "colours": [], "value": np.clip(z[:2], -3, 3)}
        drag_component(f"drag_pad_{kind}", "pad", models, pad, "z", in_browser=not server)
    image = latents.decode(model, z[None])[0]
    cols = st.columns([1, 3])
    with cols[0]:
        st.text_input(t("drag_code"), key="dz", help=t("drag_code_help"))
        where = t("drag_where_server" if server else "drag_where_released")
        show_image(
            image, t("drag_decodes", where=where, model=LABELS[kind], code=latents.format_code(z, 4)), target=140
        )
    with cols[1]:
        show_nearest(view, image, t("drag_nearest"), bank)


drag_panel()
