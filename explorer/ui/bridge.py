"""What the browser is sent: components' data and Plotly figures, with every non-finite value made null, and
static charts (a figure as inline SVG, explorer/svg_figure.py).

Components (st.components.v2) get {"json": their data as one JSON text}. Streamlit checks a
component's `data` for dataframes, and that check imports pandas and pyarrow (about 2 s on a cold
start, before the first map could be drawn) for any value but a dict's plain scalars and strings (a
bare string too). So the data travels as the one string value of a dict; each component's JS reads
it back with JSON.parse(component.data.json).

A model can compute values that are not finite; JSON has no NaN or Infinity (JSON.parse fails on
them) and Plotly.js draws an infinite coordinate as an axis that never ends. Both leave through
here, with NaN and +-inf as null: a gap in a chart, a missing point in a component.
"""

from __future__ import annotations

import json
import math

import numpy as np
import streamlit as st


def component_data(data: dict, encoded: str = "{}") -> dict[str, str]:
    """data (numpy arrays and scalars allowed) as {"json": text} for a component's JS to parse; `encoded`,
    a JSON object text made by json_object (cached by the caller), adds its members unencoded again."""
    text = json.dumps(finite(data), allow_nan=False)
    if encoded.strip() not in ("{}", ""):
        text = text[:-1] + ", " + encoded.strip()[1:] if data else encoded
    return {"json": text}


def json_object(data: dict) -> str:
    """The JSON object text of data as component_data would write it, for component_data(encoded=...)."""
    return json.dumps(finite(data), allow_nan=False)


def finite(value):
    """value with numpy turned into plain lists and scalars, and NaN / +-inf into None (JSON null)."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc" and not np.isfinite(value).all():
            return finite(value.astype(object).tolist())
        if value.dtype.kind in "biuf":
            return value.tolist()
        return finite(value.tolist())
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    raise TypeError(f"{type(value).__name__} cannot be sent to a component")


def _non_finite_arrays(props, path: tuple = ()):
    """Paths of the float arrays in a figure's property dict that hold NaN or inf."""
    if isinstance(props, dict):
        for key, value in props.items():
            yield from _non_finite_arrays(value, (*path, key))
    elif isinstance(props, (list, tuple)):
        for i, value in enumerate(props):
            if isinstance(value, (dict, list, tuple, np.ndarray)):
                yield from _non_finite_arrays(value, (*path, i))
    elif isinstance(props, np.ndarray) and props.dtype.kind == "f" and not np.isfinite(props).all():
        yield path


def finite_figure(fig):
    """The figure with no non-finite number left for the browser. Plotly's JSON writes NaN and +-inf
    in lists and scalars as null, but keeps them in the binary form it uses for numpy arrays; such an
    array becomes a list with None (a gap), or, where Plotly takes no None (a colour array), the
    smallest finite value. Changed in place: a cached figure is converted once, then only scanned."""
    for part in (*fig.data, fig.layout):
        for path in list(_non_finite_arrays(part.to_plotly_json())):
            values = np.asarray(part[path], dtype=np.float64)
            ok = np.isfinite(values)
            try:
                part[path] = np.where(ok, values, None).tolist()
            except ValueError:
                part[path] = np.where(ok, values, values[ok].min() if ok.any() else 0.0)
    return fig


def plotly_chart(fig, *, where=None, finite=False, **kwargs):
    """st.plotly_chart (or where.plotly_chart, a column or container) of the figure made finite:
    every page's Plotly figure leaves through here. finite=True: fig is finite_figure's own result, cached
    and never changed since (its scan took tens of ms a run)."""
    return (where or st).plotly_chart(fig if finite else finite_figure(fig), **kwargs)


def static_chart(chart, *, label: str = "", where=None, key: str | None = None, width: int | None = None):
    """A chart as static SVG (class le-chart) in one Markdown element: chart is a go.Figure, translated here by
    explorer/svg_figure.py, or SVG text it made before (a cache's). A step change draws it with the page's text,
    where st.plotly_chart loads Plotly and draws each new chart twice; hover text is each point's native tooltip.
    A figure the translator refuses (a feature it does not draw, markup in a name read from a file) is drawn by
    plotly_chart instead (key: its element's key), never wrongly and never as an error. st.html would not do: its
    sanitiser keeps HTML only and drops the <svg>. The SVG is one line with its text escaped (no blank line ends
    Markdown's HTML block), drawn from a figure this app built. Non-finite values: finite_figure's rule."""
    from explorer.svg_figure import WIDTH, Unsupported, figure_svg  # plotly's: not on a page's first import

    if not isinstance(chart, str):
        try:
            chart = figure_svg(chart, label, width=width or WIDTH)  # width: the SVG's own, before it scales
        except Unsupported:
            return plotly_chart(chart, where=where, key=key)
    return (where or st).markdown(f'<div class="le-chart">{chart}</div>', unsafe_allow_html=True)
