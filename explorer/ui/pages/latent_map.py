"""Latent map: the test split's codes for both models, side by side; pick one to see it."""

import streamlit as st

from explorer import latents
from explorer.projection import MAX_FIT_POINTS, PROJECTIONS
from explorer.ui import urlstate
from explorer.ui.context import (
    LABELS,
    PageEnd,
    apply_projection,
    current_view,
    describe_projection,
    projection_choice,
    projection_progress,
)
from explorer.ui.lang import error_text, show_error, t
from explorer.ui.text import plain
from explorer.ui.widgets import clear_probe, pick_index, pick_on_map, probe_code, show_image, show_strip, static_map

NEIGHBOURS = 8  # nearest items listed under a pick when the set has no decoder

view = current_view()
st.title(t("nav_map"))
view.needs("encoder")
st.caption(t("emb_map_lead" if view.embeddings else "map_lead_2d" if view.latent_dim == 2 else "map_lead"))

controls = st.columns([1, 2]) if view.latent_dim > 2 else [st.container()]  # 2-D: the toggle has the row
ellipses = False  # embeddings are points, not Gaussians: no toggle that could do nothing
if not view.embeddings:
    urlstate.seed("ellipses", view.latent_dim == 2)
    ellipses = controls[0].toggle(
        t("map_ellipses"),
        key="ellipses",
        disabled=view.latent_dim != 2,
        help=t("map_ellipses_help"),
    )

if view.latent_dim > 2:
    method, params = projection_choice()
    with controls[1].form("projection_form", border=True):
        st.markdown(t("map_projection", dim=view.latent_dim, now=describe_projection(*view.shown_projection())))
        limits = t("list_sep").join(
            t("map_fit_limit", method=PROJECTIONS[m].label, n=n) for m, n in MAX_FIT_POINTS.items()
        )
        st.caption(t("map_limits", limits=limits))
        chosen = st.selectbox(
            t("map_method"), list(PROJECTIONS), format_func=lambda m: PROJECTIONS[m].label, key="projection_method"
        )
        values = {
            name: st.slider(
                t("proj_" + name),
                float(p.low),
                float(p.high),
                float(p.default),
                float(p.step),
                key=f"projection_{name}",
            )
            for name, p in PROJECTIONS[chosen].params.items()
        }
        if st.form_submit_button(t("map_run_projection"), key="run_projection"):
            apply_projection(chosen, values)
            st.rerun()

try:
    with controls[-1]:  # a slow projection fits in the background; PCA is drawn meanwhile
        projection_progress(view)
    static_map(view, "map_chart", ellipses)
except Exception as exc:  # a projection can fail on odd data (t-SNE perplexity, UMAP on few points)
    show_error(t("map_failed", error=error_text(exc)), exc)
    raise PageEnd


@st.fragment
def picked(view) -> None:
    """The pick (drawn over the map) and the picked item: a click on the map or a typed item reruns
    only this; the map's chart is left alone."""
    urlstate.seed("pick", view.default_item(), 0, len(view.dataset.test) - 1)
    pick_on_map(view, "map_chart")
    st.columns([1, 3])[0].number_input(
        t("map_test_item"), min_value=0, max_value=len(view.dataset.test) - 1, step=1, key="pick", on_change=clear_probe
    )
    show_pick(view)
    urlstate.publish()  # a fragment rerun: the URL follows the pick


def show_pick(view) -> None:
    index = pick_index(view)
    probe = probe_code(view)
    x = view.dataset.test.x[index].numpy()
    if probe is not None and view.latent_dim == 2:
        kind, z = probe
        st.subheader(t("map_empty_space", model=view.label(kind), x=z[0], y=z[1]))
        cols = st.columns(4)
        with cols[0]:
            if kind in view.decoding:
                show_image(latents.decode(view.model(kind), z[None])[0], t("map_decodes_here", model=LABELS[kind]))
            else:
                st.caption(t("map_no_decoder", model=view.label(kind)))
    else:
        st.subheader(t("map_item", index=index, item=plain(view.describe_item(index))))
        cols = st.columns(4)
        with cols[0]:
            if view.has_images:
                show_image(x, t("cap_original"))
            else:
                st.caption(t("emb_no_images"))
        for col, kind in zip(cols[1:], [k for k in view.encoding if k in view.decoding]):
            code = view.codes[kind].mean[index]
            recon = latents.decode(view.model(kind), code[None])[0]
            mse = float(((recon - x) ** 2).mean())
            with col:
                show_image(recon, t("map_recon", model=LABELS[kind], mse=mse))
        with cols[3]:
            for kind in view.encoding:
                st.markdown(
                    t("map_code", model=view.label(kind), code=latents.format_code(view.codes[kind].mean[index]))
                )
            if "vae" in view.codes and view.codes["vae"].std is not None:
                st.markdown(t("map_std", std=latents.format_code(view.codes["vae"].std[index])))
            blind = [LABELS[k] for k in view.encoding if k not in view.decoding]
            if blind and not view.embeddings:  # codes but no decoder: no reconstruction to show
                st.caption(t("map_no_decoder", model=t("list_sep").join(blind)))
        for kind in (k for k in view.encoding if k not in view.decoding):  # nothing decoded: the nearest items
            neighbours(view, kind, index)


def neighbours(view, kind: str, index: int) -> None:
    """The items whose codes lie nearest the pick's, in the full latent space (not the 2-D map)."""
    order, dist = latents.nearest_codes(view.codes[kind].mean, index, NEIGHBOURS)
    st.markdown(t("map_neighbours", model=view.label(kind), k=len(order), dim=view.latent_dim))
    captions = [
        t("map_neighbour", index=int(i), item=plain(view.describe_item(int(i))), dist=float(d))
        for i, d in zip(order, dist)
    ]
    if view.has_images:
        show_strip(view.dataset.test.x[order].numpy(), captions)
    else:
        st.markdown("\n".join(f"{n + 1}. {c}" for n, c in enumerate(captions)))


picked(view)
