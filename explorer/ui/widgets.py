"""Streamlit pieces shared by pages: images, the pickable latent map, the picked item, prior-sample grids."""

from __future__ import annotations

from html import escape

import numpy as np
import streamlit as st

from explorer import images, latents
from explorer.figures import MODEL_COLOURS, PROBE, MapPanel, latent_maps
from explorer.ui import cache
from explorer.ui.bridge import plotly_chart
from explorer.ui.context import KINDS, LABELS, PageEnd, View
from explorer.ui.lang import current, error_text, show_error, t
from explorer.ui.text import plain
from training.bank import nearest_by_mse
from training.errors import LatentExplorerError


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


def show_images(frames, captions: list[str] | None = None, target: int = 64, name: str = "le-tour-images") -> None:
    """show_strip's row as one element of inline images (class `name`; the tour's): a step change sends them
    with its messages and the browser fetches none (st.image: a request each)."""
    height, width = frames[0].shape[-2:]
    scale = images.display_scale(width, target)
    uris = [images.png_uri(images.to_uint8(f)) for f in frames]
    inline_images(uris, captions or [None] * len(uris), width * scale, height * scale, name)


def pick_index(view: View) -> int:
    """The picked test item (URL: pick), clipped into range for the current pair."""
    return int(np.clip(st.session_state.get("pick", view.default_item()), 0, len(view.dataset.test) - 1))


def probe_code(view: View) -> tuple[str, np.ndarray] | None:
    """(model kind, code) of an empty-space pick on a 2-D map (URL: at=x,y and at_kind), if that was the
    last pick; the kind is one of the set's models with a map."""
    z = latents.parse_code(st.session_state.get("at"), 2)
    if z is None or not view.encoding:
        return None
    kind = st.session_state.get("at_kind", "vae")
    return (kind if kind in view.encoding else view.encoding[-1]), np.clip(z, -1e3, 1e3).astype(np.float32)


def clear_probe() -> None:
    """A test item chosen (typed or clicked): the last action wins over an empty-space pick."""
    for key in ("at", "at_kind"):
        st.session_state.pop(key, None)


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
    (on_pick or apply_pick)(panel, item, float(point["x"]), float(point["y"]))


def apply_pick(panel: int, item: int, x: float, y: float, kinds: tuple[str, ...] = KINDS) -> None:
    """A pick on a latent map (panels: kinds): a code picks its test item; empty space (2-D) picks that location."""
    if item == PROBE:
        st.session_state["at"] = f"{x:.4g},{y:.4g}"
        st.session_state["at_kind"] = kinds[panel] if 0 <= panel < len(kinds) else kinds[-1]
    else:
        st.session_state["pick"] = item
        clear_probe()


def map_panels(
    view: View,
    *,
    ellipses: bool = False,
    paths: dict[str, np.ndarray] | None = None,
    markers: dict[str, np.ndarray] | None = None,
    probes: bool = False,
) -> list[MapPanel]:
    """One panel per model with an encoder: codes projected (identity for 2-D), paths and markers alike."""
    panels = []
    for kind in view.encoding:
        codes = view.codes[kind]
        proj = view.projection(kind)
        two_d = view.latent_dim == 2
        points = proj.embedding_
        keys = ("emb_map_panel", "emb_map_panel_proj") if view.embeddings else ("map_panel", "map_panel_proj")
        panel = MapPanel(
            t(keys[0], model=view.label(kind))
            if two_d
            else t(keys[1], model=view.label(kind), method=proj.name.upper(), dim=view.latent_dim),
            points,
            axis_titles=("z0", "z1") if two_d else (f"{proj.name.upper()} 1", f"{proj.name.upper()} 2"),
            colour=MODEL_COLOURS[LABELS[kind]],
        )
        if ellipses and two_d and codes.std is not None:
            panel.std = codes.std
        if paths and kind in paths:
            panel.path = proj.transform(paths[kind])
        if markers and kind in markers:
            panel.marker = proj.transform(markers[kind][None])[0]
        if probes and two_d:
            panel.probe_box = latents.padded_bounds(points, 0.15)
        panels.append(panel)
    return panels


def latent_map_chart(view: View, key: str, selectable: bool = True, on_pick=None, **panel_options) -> None:
    """The two latent maps; a click picks (on_pick(panel, item, x, y) or the default picker)."""
    fig = latent_maps(map_panels(view, **panel_options), view.colouring(), t=t)
    config = {"scrollZoom": True, "displaylogo": False}
    if not selectable:
        plotly_chart(fig, key=key, config=config)
        return
    plotly_chart(
        fig,
        key=key,
        on_select=lambda: on_map_select(key, on_pick),
        selection_mode="points",
        config=config,
    )


def static_map(view: View, key: str, ellipses: bool) -> None:
    """The latent map page's two maps, built once per pair, projection and options. The figure never
    holds the pick (pick_layer draws it), so a pick neither re-sends nor redraws it."""

    def build():
        fig = latent_maps(map_panels(view, ellipses=ellipses, probes=True), view.colouring(), t=t)
        # pick_layer picks (Plotly's selection would dim the rest); a click over 6 px from a dot is empty space
        return fig.update_layout(clickmode="event", hoverdistance=6)

    fig = cache.latent_map_figure(view.path, view.stamp, (view.shown_projection(), ellipses, current()), build)
    plotly_chart(fig, key=key, config={"scrollZoom": True, "displaylogo": False})


def pick_on_map(view: View, chart: str) -> None:
    """Over static_map's chart: reports a click as a pick (apply_pick) and draws the picked point
    (map_pick.pick_layer is the component that does both in the browser)."""
    from explorer.ui.map_pick import clicked, pick_layer

    key = f"{chart}_pick"
    marks = picked_codes(view)
    points = [view.projection(kind).transform(marks[kind][None])[0].tolist() for kind in view.encoding]
    probe = probe_code(view)
    label = (
        t("map_pick_item", index=pick_index(view))
        if probe is None
        else t("map_pick_at", code=latents.format_code(probe[1]))
    )

    def on_click() -> None:
        pick = clicked(key, len(view.encoding), len(view.dataset.test), PROBE)
        if pick is not None:
            apply_pick(*pick, kinds=view.encoding)

    pick_layer(key, chart, points, label, on_click, PROBE if view.latent_dim == 2 else None)


def picked_codes(view: View) -> dict[str, np.ndarray]:
    """The current point in each model's space: the picked item's code, or the probed location; the
    origin for a model without an encoder (the centre of the prior)."""
    probe = probe_code(view)
    index = pick_index(view)
    out = {kind: view.codes[kind].mean[index] for kind in view.encoding}
    out |= {kind: np.zeros(view.latent_dim, np.float32) for kind in view.kinds if kind not in out}
    if probe is not None and view.latent_dim == 2:
        kind, code = probe
        out[kind] = code
    return out


def open_set(info):
    """(lead, second, dataset) of a conditional set (cvae, regression); st.error and stop if it cannot load."""
    path = str(info.path)
    try:
        models, data = cache.model_set(path, info.stamp), cache.dataset(path, info.stamp)
    except (LatentExplorerError, OSError) as exc:
        show_error(t("err_open_set", set=plain(info.id), error=error_text(exc)), exc)
        raise PageEnd
    return models[info.kinds[0]], models[info.kinds[1]], data


def pair_models(view: View) -> dict:
    return {kind: view.model(kind) for kind in view.kinds}


def show_nearest(view: View, image_chw: np.ndarray, title: str, bank: np.ndarray | None = None, k: int = 5) -> None:
    """The k training images nearest to image_chw, captioned with their MSE. bank: view.train_bank(), which
    a fragment passes in from its page's run (a look-up per slider move otherwise)."""
    idx, dist = nearest_by_mse(image_chw[None], view.train_bank() if bank is None else bank, k=k)
    st.markdown(title, help=t("help_nearest"))
    height, width = image_chw.shape[-2:]
    scale = images.display_scale(width, 64)
    # One HTML element with the images inline, each encoded once per process: a slider move sends one element
    # here, not k + 1, and the browser fetches no image for it (st.image: k media files and k requests)
    uris = [cache.train_image_uri(view.path, view.stamp, int(i), scale) for i in idx[0]]
    inline_images(uris, [f"{d:.4f}" for d in dist[0]], width * scale, height * scale, "le-nearest")


def inline_images(uris: list[str], captions: list[str | None], width: int, height: int, name: str) -> None:
    """Images (data URIs) in one HTML element of class `name`, each shown width x height px, pixels kept
    square, with its caption under it: the element travels with the run's messages and the browser fetches
    no media file (st.image: one file and one request per image, served by the busy server)."""
    figures_ = "".join(
        f'<figure style="margin:0;text-align:center"><img src="{uri}" width="{width}" height="{height}" '
        f'alt="{escape(caption or "")}" style="image-rendering:pixelated">'
        + (f'<figcaption style="font-size:0.875rem;opacity:0.6">{escape(caption)}</figcaption>' if caption else "")
        + "</figure>"
        for uri, caption in zip(uris, captions)
    )
    st.html(f'<div class="{name}" style="display:flex;flex-wrap:wrap;gap:0.5rem">{figures_}</div>')


# analyses.PRIOR_SOURCES -> the catalogue's words for them
PRIOR_KEYS = {"N(0, I)": "prior_standard", "Gaussian fitted to its codes": "prior_fitted"}


def prior_grids(sets: list, scores: list[float], caption: str, limit: int | None = None) -> None:
    """Each prior-sample set as an 8-wide grid, captioned "<model>, z ~ <source>" + caption.format(score)."""
    for col, s, score in zip(st.columns(len(sets)), sets, scores):
        decoded = s.decoded[:limit]
        picture = images.upscale(images.grid(decoded, 8), images.display_scale(decoded.shape[-1], 40))
        col.image(
            picture,
            caption=t("prior_grid", model=LABELS[s.kind], source=t(PRIOR_KEYS[s.source])) + caption.format(score),
            width="stretch",
        )
