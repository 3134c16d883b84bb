"""Streamlit pieces shared by pages: images, the pickable latent map, the picked item."""

from __future__ import annotations

import numpy as np
import streamlit as st
from plotly.colors import sample_colorscale

from explorer import images, latents
from explorer.figures import CLASS_COLOURS, PHASE_SCALE, PROBE, MapPanel, latent_maps
from explorer.ui.context import KINDS, LABELS, View


def show_image(image_chw: np.ndarray, caption: str | None = None, target: int = 140) -> None:
    side = image_chw.shape[-1]
    scale = images.display_scale(side, target)
    st.image(images.upscale(images.to_uint8(image_chw), scale), caption=caption, width=side * scale)


def show_strip(frames: np.ndarray, captions: list[str] | None = None, target: int = 64) -> None:
    """(N, C, H, W) images in one row, one image element holding N images."""
    scale = images.display_scale(frames.shape[-1], target)
    st.image(
        [images.upscale(images.to_uint8(f), scale) for f in frames], caption=captions, width=frames.shape[-1] * scale
    )


def pick_index(view: View) -> int:
    """The picked test item (URL-bound), clipped into range for the current pair."""
    return int(np.clip(st.session_state.get("pick", 0), 0, len(view.dataset.test) - 1))


def probe_code() -> tuple[int, np.ndarray] | None:
    """(panel, code) of an empty-space pick on a 2-D map, if that is what was picked last."""
    probe = st.session_state.get("probe")
    if not probe:
        return None
    return int(probe[0]), np.array(probe[1:], dtype=np.float32)


def parse_customdata(data) -> tuple[int, int] | None:
    """[panel, item] as plotly sends it back: a list, or a dict keyed "0", "1" (WebGL traces)."""
    if isinstance(data, dict):
        data = [data.get("0", data.get(0)), data.get("1", data.get(1))]
    try:
        panel, item = (int(v) for v in list(data)[:2])
    except (TypeError, ValueError):
        return None
    return panel, item


def on_map_select(chart_key: str, on_pick=None) -> None:
    """Selection callback: a code picks its test item; empty space (2-D) picks a location."""
    state = st.session_state.get(chart_key)
    points = state.selection.get("points", []) if state else []
    if not points:
        return
    point = points[0]
    parsed = parse_customdata(point.get("customdata"))
    if parsed is None:
        return
    panel, item = parsed
    if on_pick is not None:
        on_pick(panel, item, float(point["x"]), float(point["y"]))
    elif item == PROBE:
        st.session_state["probe"] = [panel, float(point["x"]), float(point["y"])]
    else:
        st.session_state["pick"] = item
        st.session_state["probe"] = None


def map_panels(
    view: View,
    *,
    ellipses: bool = False,
    paths: dict[str, np.ndarray] | None = None,
    markers: dict[str, np.ndarray] | None = None,
    probes: bool = False,
) -> list[MapPanel]:
    """One panel per model: codes projected (identity for 2-D), paths and markers transformed alike."""
    panels = []
    for kind in KINDS:
        codes = view.codes[kind]
        proj = view.projection(kind)
        two_d = view.latent_dim == 2
        points = proj.embedding
        panel = MapPanel(
            f"{LABELS[kind]} latent space" + ("" if two_d else f" ({proj.name.upper()} of {view.latent_dim}-D codes)"),
            points,
            axis_titles=("z0", "z1") if two_d else (f"{proj.name} 1", f"{proj.name} 2"),
        )
        if ellipses and two_d and codes.std is not None:
            panel.std = codes.std
        if paths and kind in paths:
            panel.path = proj.transform(paths[kind])
        if markers and kind in markers:
            panel.marker = proj.transform(markers[kind][None])[0]
        if probes and two_d:
            lo, hi = points.min(0), points.max(0)
            pad = 0.15 * (hi - lo)
            panel.probe_box = (lo - pad, hi + pad)
        panels.append(panel)
    return panels


def latent_map_chart(view: View, key: str, selectable: bool = True, on_pick=None, **panel_options) -> None:
    """The two latent maps; a click picks (on_pick(panel, item, x, y) or the default picker)."""
    fig = latent_maps(map_panels(view, **panel_options), view.colouring())
    config = {"scrollZoom": True, "displaylogo": False}
    if not selectable:
        st.plotly_chart(fig, key=key, config=config)
        return
    st.plotly_chart(
        fig,
        key=key,
        on_select=lambda: on_map_select(key, on_pick),
        selection_mode="points",
        config=config,
    )


def picked_codes(view: View) -> dict[str, np.ndarray]:
    """The current point in each model's space: the picked item's code, or the probed location."""
    probe = probe_code()
    index = pick_index(view)
    out = {kind: view.codes[kind].mean[index] for kind in KINDS}
    if probe is not None and view.latent_dim == 2:
        panel, code = probe
        out[KINDS[panel]] = code
    return out


def nearest_training(view: View, image_chw: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    idx, dist = latents.nearest_images(image_chw[None], view.train_bank(), k=k)
    return idx[0], dist[0]


def point_colours(view: View, limit: int) -> tuple[np.ndarray, list[str]]:
    """An even subsample (at most limit) of the test items, coloured as on the latent map."""
    colouring = view.colouring()
    n = len(view.dataset.test)
    take = np.linspace(0, n - 1, min(n, limit)).astype(int)
    if colouring.kind == "label":
        return take, [CLASS_COLOURS[int(v) % len(CLASS_COLOURS)] for v in colouring.values[take]]
    if colouring.kind == "factor":
        return take, sample_colorscale(PHASE_SCALE, list(np.clip(colouring.values[take], 0, 1)))
    return take, ["#555"] * len(take)


def point_map(view: View, kind: str, z: np.ndarray, key: str) -> None:
    """A light map (canvas, not plotly) of one model's codes with the current point marked.

    It redraws in about a millisecond, so a slider move is not held up by a chart remount.
    """
    from explorer.ui.drag import drag_component

    proj = view.projection(kind)
    take, colours = point_colours(view, 1500)
    points = proj.embedding
    lo, hi = points.min(0), points.max(0)
    pad = 0.1 * (hi - lo) + 1e-6
    drag_component(
        key,
        "map",
        [],
        {
            "bounds": [lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1]],
            "points": points[take],
            "colours": colours,
            "value": proj.transform(z[None])[0],
            "label": f"{LABELS[kind]} latent map",
        },
        "z",
    )
