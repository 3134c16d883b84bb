"""The drag-to-decode component (st.components.v2, inline HTML/CSS/JS, no build step)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from explorer import webdecoder
from explorer.ui.bridge import component_data
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


def drag_component(
    key: str,
    mode: str,
    models: list[tuple[str, Autoencoder]],
    payload: dict[str, Any],
    state_name: str,
    on_release=None,
    in_browser: bool = True,
):
    """Mount the component. mode: sliders | pad | scrub. Returns the component result
    (result.<state_name> is the value released last, or streamed in server mode)."""
    in_browser = in_browser and all(browser_can_decode(m) for _, m in models)
    described, decoders = _decoders(models, in_browser)
    data = {
        "mode": mode,
        "models": described,
        "decoders": decoders,
        "state_name": state_name,
        "throttle_ms": 100,
        # Rebuild the widget (not just refresh it) when what it controls changes.
        "signature": f"{mode}:{','.join(m['id'] for m in described)}:{payload.get('signature', '')}",
        **payload,
    }
    callbacks = {f"on_{state_name}_change": on_release or (lambda: None)}
    return _COMPONENT(key=key, data=component_data(data), **callbacks)


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
