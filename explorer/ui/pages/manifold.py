"""Manifold grid: the figure people know (Kingma and Welling 2013, fig. 4) for both models of a
2-D pair, beside each model's latent map coloured by class; both exportable as PNG."""

import streamlit as st

from explorer.figures import latent_maps
from explorer.ui import cache, urlstate, waiting
from explorer.ui.bridge import plotly_chart
from explorer.ui.context import LABELS, PageEnd, current_view
from explorer.ui.lang import t
from explorer.ui.text import plain
from explorer.ui.widgets import map_panels

GRID_SIZES = (10, 15, 20, 25, 30)
SOURCES = {"N(0, I) quantiles": "grid_prior", "fitted-Gaussian quantiles": "grid_fitted"}  # latents' -> catalogue


def png_button(label: str, data: bytes, name: str, key: str) -> None:
    st.download_button(
        label, data, file_name=name, mime="image/png", key=key, icon=":material/download:", on_click="ignore"
    )


view = current_view()
stem = view.pair_id.replace("/", "_")  # runs/x -> runs_x in file names
st.title(t("nav_manifold"))
view.needs("decoder")
if view.latent_dim != 2:
    st.info(t("grid_not_2d", pair=plain(view.pair_id), dim=view.latent_dim), icon=":material/grid_on:")
    raise PageEnd

urlstate.seed("mgrid_n", 20, options=list(GRID_SIZES))
n = st.select_slider(t("grid_size"), GRID_SIZES, key="mgrid_n", help=t("grid_size_help"))
st.caption(t("grid_lead"))

grids_asked = [("manifold", (view.path, view.stamp, kind, n)) for kind in view.decoding]
computed = waiting.results(grids_asked, "long_task_manifold", "grid")
if computed is None:
    raise PageEnd
grids = {}
for column, kind, (grid, image, png) in zip(st.columns(2), view.decoding, computed):
    grids[kind] = grid
    with column:
        st.subheader(LABELS[kind])
        st.image(image, width=560)  # 20 x 28 px: the decodes at their own size
        source = t(SOURCES[grid.source])
        st.caption(t("grid_range", source=source, x0=grid.xs[0], x1=grid.xs[-1], y0=grid.ys[-1], y1=grid.ys[0]))
        png_button(
            t("grid_png"),
            png,
            f"{stem}-{kind}-grid{n}.png",
            f"grid_png_{kind}",
        )

if not view.encoding:  # no codes to map: the grids are all there is
    raise PageEnd
st.subheader(t("grid_where"))
colouring = view.colouring()
if colouring.kind != "label":
    st.caption(t("grid_no_labels"))
figure = latent_maps(map_panels(view), colouring, t=t)
for col, kind in enumerate(view.encoding, start=1):  # the region each grid covers
    if kind not in grids:
        continue
    g = grids[kind]
    box = dict(x0=g.xs[0], x1=g.xs[-1], y0=g.ys[-1], y1=g.ys[0], line=dict(color="#444", dash="dash", width=1))
    figure.add_shape(type="rect", row=1, col=col, **box)
plotly_chart(figure, key="manifold_map", config={"displaylogo": False, "scrollZoom": True})
st.caption(t("grid_dashed"))
if colouring.kind == "label":
    buttons = st.columns(2)
    for column, kind in zip(buttons, view.encoding):
        title = f"{view.pair_id}: {LABELS[kind]}"  # names only: matplotlib's bundled font has no Chinese glyphs
        with column:
            png_button(
                t("grid_map_png", model=LABELS[kind]),
                cache.class_map_png(view.path, view.stamp, kind, title),
                f"{stem}-{kind}-map.png",
                f"map_png_{kind}",
            )
