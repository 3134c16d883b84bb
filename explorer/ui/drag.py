"""The drag-to-decode component (st.components.v2, inline HTML/CSS/JS, no build step), and the pages' uses of
it: the light point map (Decoder, Drag) and the scrubber between two codes (AE vs VAE)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from explorer import figures, latents, webdecoder
from explorer.ui import cache, lang, urlstate
from explorer.ui.bridge import component_data, json_object
from explorer.ui.context import KINDS, LABELS, View
from explorer.ui.widgets import pair_models, show_image
from training.bank import manifold_distance
from training.models import Autoencoder

HERE = Path(__file__).parent
_COMPONENT = st.components.v2.component(
    "latent_explorer_drag",
    html='<div class="le-mount"></div>',
    css=(HERE / "drag.css").read_text(),
    js=(HERE / "drag.js").read_text(),
)


def browser_can_decode(model: Autoencoder) -> bool:
    return webdecoder.mlp_layers(model) is not None


def _decoders(models: list[tuple[str, Autoencoder]], in_browser: bool) -> tuple[list[dict], dict]:
    """Model descriptions, and weights for the decoders this browser session has not had yet."""
    sent: set = st.session_state.setdefault("_decoders_sent", set())
    described, decoders = [], {}
    for label, model in models:
        ident = webdecoder.decoder_id(model)
        described.append({"id": ident, "label": label, "shape": list(model.config.in_shape)})
        if in_browser and ident not in sent:
            layers = webdecoder.mlp_layers(model)
            if layers is not None:
                decoders[ident] = {"layers": layers, "shape": list(model.config.in_shape)}
                sent.add(ident)
        elif in_browser:
            decoders[ident] = {"shape": list(model.config.in_shape)}  # already in the browser
    return described, decoders


JS_WORDS = ("browser", "server", "dimension", "pad", "map", "t")  # drag.js fills {d} in "dimension" itself


def drag_component(
    key: str,
    mode: str,
    models: list[tuple[str, Autoencoder]],
    payload: dict[str, Any],
    state_name: str,
    on_release=None,
    in_browser: bool = True,
    encoded: str = "{}",
):
    """Mount the component. mode: sliders | pad | scrub | map. Returns the component result
    (result.<state_name> is the value released last, or streamed in server mode). encoded: more of the
    payload, already JSON (bridge.json_object), that the caller keeps between reruns."""
    in_browser = in_browser and all(browser_can_decode(m) for _, m in models)
    described, decoders = _decoders(models, in_browser)
    data = {
        "mode": mode,
        "models": described,
        "decoders": decoders,
        "state_name": state_name,
        "throttle_ms": 100,
        "words": {w: lang.t("drag_js_" + w) for w in JS_WORDS},  # the component's own lines, in the page's language
        # Rebuild the widget (not just refresh it) when what it controls changes.
        "signature": f"{mode}:{','.join(m['id'] for m in described)}:{payload.get('signature', '')}",
        **payload,
    }
    callbacks = {f"on_{state_name}_change": on_release or (lambda: None)}
    return _COMPONENT(key=key, data=component_data(data, encoded), **callbacks)


def last_value(key: str, name: str):
    """What the component `key` sent last as `name`, read before it is mounted in this run, so the
    other controls (and this one's own thumb) can be drawn at the value just released."""
    state = st.session_state.get(key)
    try:
        return state.get(name) if state is not None else None
    except AttributeError:
        return None


def component_value(value: Any, length: int | None, lo, hi) -> np.ndarray | float | None:
    """A value sent back by the browser, validated on arrival: one number (length None) or a list
    of `length` numbers, each finite and clamped into [lo, hi] (scalars or (length,) arrays).
    Anything else (text, objects, null, NaN, a wrong length) is None: the caller keeps its value."""
    if length is None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            return None
        return float(np.clip(value, lo, hi))
    if not isinstance(value, (list, tuple)) or len(value) != length:
        return None
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value):
        return None
    z = np.asarray(value, dtype=np.float64)
    if not np.isfinite(z).all():
        return None
    return np.clip(z, lo, hi)


def pad_bounds(points: np.ndarray, margin: float, min_extent: float = 0.0) -> list[float]:
    """[x0, x1, y0, y1] of the padded extent of (N, 2) points, as the canvas component takes it."""
    lo, hi = latents.padded_bounds(points, margin, min_extent)
    return [lo[0], hi[0], lo[1], hi[1]]


def point_colours(view: View, limit: int) -> tuple[np.ndarray, list[str]]:
    """An even subsample (at most limit) of the test items, coloured as on the latent map."""
    n = len(view.dataset.test)
    take = np.linspace(0, n - 1, min(n, limit)).astype(int)
    return take, figures.point_colours(view.colouring(), take)


def point_map_data(view: View, kind: str) -> tuple[Any, str]:
    """(projection, the map's points, colours and bounds as JSON) for point_map: a page computes them in its
    run, outside the fragment that draws the map, so a slider move neither looks them up nor encodes them."""
    proj = view.projection(kind)

    def build() -> str:
        take, colours = point_colours(view, 1500)
        points = proj.embedding_
        bounds = pad_bounds(points, 0.1, min_extent=1e-5)
        # 6 significant digits of the map's extent: finer than any canvas, a third of full floats' text
        extent = max(bounds[1] - bounds[0], bounds[3] - bounds[2])
        # a model that computes nonsense has no finite extent: full digits then, its NaN become null
        decimals = max(0, 6 - int(np.floor(np.log10(extent)))) if np.isfinite(extent) and extent > 0 else 6
        return json_object(
            {"bounds": bounds, "points": np.round(points[take].astype(np.float64), decimals), "colours": colours}
        )

    return proj, cache.point_map_json(view.path, view.stamp, kind, view.shown_projection(), build)


def point_map(data: tuple[Any, str], label: str, z: np.ndarray, key: str) -> None:
    """A light map (canvas, not plotly) of one model's codes (point_map_data) with the current point marked.

    It redraws in about a millisecond, so a slider move is not held up by a chart remount.
    """
    proj, encoded = data
    drag_component(key, "map", [], {"value": proj.transform(z[None])[0], "label": label}, "z", encoded=encoded)


@st.fragment
def scrubber(view: View, interps: dict, method: str, signature: str) -> None:
    """Drag t from 0 to 1: both decoders follow live in the browser; the released t is decoded here.
    The released t is one value (URL: t): the thumb is drawn where it was released."""
    from explorer import analyses, webdecoder

    released = component_value(last_value("scrubber", "t"), None, 0.0, 1.0)  # finite, in [0, 1], or None
    if released is not None and released != st.session_state.get("_scrub_seen"):
        st.session_state["_scrub_seen"] = st.session_state["t"] = released  # a new release wins
    t = urlstate.seed("t", 0.5)
    urlstate.publish()  # a fragment rerun: the URL follows t before the images are drawn
    models = pair_models(view)
    endpoints = {
        webdecoder.decoder_id(models[k]): {"a": i.path[0], "b": i.path[-1], "method": method}
        for k, i in interps.items()
    }
    st.markdown(lang.t("scrub_lead"))
    described = [(LABELS[k], models[k]) for k in KINDS]
    drag_component("scrubber", "scrub", described, {"paths": endpoints, "value": t, "signature": signature}, "t")
    bank = cache.bank(view.path, view.stamp)  # scored as the page's chart is: true renders on moons
    st.caption(lang.t("scrub_distance"), help=lang.t("help_distance"))
    for col, kind in zip(st.columns(4), KINDS):
        decoded = analyses.decode_at(models[kind], interps[kind], method, t)
        dist = manifold_distance(decoded[None], bank)[0][0]
        with col:
            show_image(decoded, lang.t("scrub_decode", model=LABELS[kind], t=t, distance=dist), target=112)
