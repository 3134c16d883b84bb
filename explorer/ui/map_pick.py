"""The latent map's pick layer (st.components.v2, inline JS): clicks on a static Plotly chart
come back as picks, and the picked point is drawn over the chart instead of into its figure."""

from __future__ import annotations

import math
from pathlib import Path

import streamlit as st

from explorer.ui.bridge import component_data
from explorer.ui.lang import t

_COMPONENT = st.components.v2.component(
    "latent_explorer_map_pick",
    html='<div class="le-pick-mount"></div>',
    js=(Path(__file__).parent / "map_pick.js").read_text(),
)


def pick_layer(key: str, chart: str, points: list, label: str, on_click, probe: int | None = None) -> None:
    """Draw points[i] (data coordinates, or None) on subplot i of the chart keyed `chart`. A click on
    a dot, or (probe given) on empty space as item `probe`, calls on_click() with the click in
    st.session_state[key]["click"]."""
    data = {"chart": chart, "points": points, "label": label, "probes": probe is not None, "probe": probe}
    data["aria"] = t("pick_current", label=label)  # what a screen reader says of the star
    _COMPONENT(key=key, data=component_data(data), on_click_change=on_click, height="content")


def clicked(key: str, n_panels: int, n_items: int, probe: int) -> tuple[int, int, float, float] | None:
    """(panel, item, x, y) of the click the layer `key` reported, if it is one the map could send:
    a panel index, a test item (or `probe`, empty space) and finite coordinates; else None."""
    state = st.session_state.get(key)
    try:
        click = state.get("click") if state is not None else None
        panel, item, x, y = (click[k] for k in ("panel", "item", "x", "y"))
    except (AttributeError, KeyError, TypeError):
        return None
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in (panel, item, x, y)):
        return None
    if not all(math.isfinite(v) for v in (panel, item, x, y)) or panel != int(panel) or item != int(item):
        return None
    panel, item = int(panel), int(item)
    if not 0 <= panel < n_panels or not (item == probe or 0 <= item < n_items):
        return None
    return panel, item, float(x), float(y)
