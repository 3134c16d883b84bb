"""Manifold grid: the figure people know (Kingma and Welling 2013, fig. 4) for both models of a
2-D pair, beside each model's latent map coloured by class; both exportable as PNG."""

import streamlit as st

from explorer.figures import latent_maps
from explorer.ui import cache, urlstate
from explorer.ui.bridge import plotly_chart
from explorer.ui.context import KINDS, LABELS, current_view
from explorer.ui.widgets import map_panels

GRID_SIZES = (10, 15, 20, 25, 30)


def png_button(label: str, data: bytes, name: str, key: str) -> None:
    st.download_button(
        label, data, file_name=name, mime="image/png", key=key, icon=":material/download:", on_click="ignore"
    )


view = current_view()
stem = view.pair_id.replace("/", "_")  # runs/x -> runs_x in file names
st.title("Manifold grid")
if view.latent_dim != 2:
    st.info(
        f"The manifold grid decodes a 2-D latent plane; {view.pair_id} has {view.latent_dim} dimensions. "
        "Choose a 2-D pair in the sidebar (mnist5k-2d for handwritten digits).",
        icon=":material/grid_on:",
    )
    st.stop()

urlstate.seed("mgrid_n", 20, options=list(GRID_SIZES))
n = st.select_slider("Grid size (n x n decodes)", GRID_SIZES, key="mgrid_n", help="20 as in the paper")
st.caption(
    "Each tile is the decoder's image of one code on an evenly spaced grid of probabilities u in (0, 1) per "
    "axis, turned into codes by the inverse normal CDF: the VAE's through its prior N(0, I), as in Kingma and "
    "Welling's figure; the AE, which has no prior, through a Gaussian fitted to its training codes. "
    "Left to right z0 grows, bottom to top z1 grows, as on the maps below."
)

grids = {}
for column, kind in zip(st.columns(len(KINDS)), KINDS):
    grid, image = cache.manifold(view.path, view.stamp, kind, n)
    grids[kind] = grid
    with column:
        st.subheader(LABELS[kind])
        st.image(image, width=560)  # 20 x 28 px: the decodes at their own size
        st.caption(
            f"{grid.source}: z0 from {grid.xs[0]:.2f} to {grid.xs[-1]:.2f}, "
            f"z1 from {grid.ys[-1]:.2f} to {grid.ys[0]:.2f}"
        )
        png_button(
            "Grid as PNG",
            cache.manifold_png(view.path, view.stamp, kind, n),
            f"{stem}-{kind}-grid{n}.png",
            f"grid_png_{kind}",
        )

st.subheader("Where the test images sit")
colouring = view.colouring()
if colouring.kind != "label":
    st.caption("This dataset has no class labels; the maps are coloured as on the Latent map page.")
figure = latent_maps(map_panels(view), colouring)
for col, kind in enumerate(KINDS, start=1):  # the region each grid covers
    g = grids[kind]
    box = dict(x0=g.xs[0], x1=g.xs[-1], y0=g.ys[-1], y1=g.ys[0], line=dict(color="#444", dash="dash", width=1))
    figure.add_shape(type="rect", row=1, col=col, **box)
plotly_chart(figure, key="manifold_map", config={"displaylogo": False, "scrollZoom": True})
st.caption("Dashed: the region each grid above covers.")
if colouring.kind == "label":
    buttons = st.columns(len(KINDS))
    for column, kind in zip(buttons, KINDS):
        title = f"{view.pair_id}: {LABELS[kind]} codes of the test split"
        with column:
            png_button(
                f"{LABELS[kind]} map as PNG",
                cache.class_map_png(view.path, view.stamp, kind, title),
                f"{stem}-{kind}-map.png",
                f"map_png_{kind}",
            )
