"""Start the browser loading Streamlit's Plotly chart code while the server is still importing torch.

Streamlit loads its chart code (one 4.7 MB module) only when the first chart's figure arrives, so a
cold start fetched, compiled and ran it after the map was ready, from a server still busy with the
page (a timed cold start: the figure's arrival to its first draw 2.8-3.5 s, against 1.65 s for the
bench's floor app; 1.2-2.0 s with this preload). app.py calls
preload_chart_code() before its heavy imports: the browser imports the same module, at the same
URL, during those seconds, and Streamlit's own import of it later finds it loaded.

This names a file of Streamlit's build (static/js/PlotlyChart.<hash>.js); if a Streamlit release
names it otherwise, nothing is preloaded and the charts load as before (tests/test_preload.py).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

STATIC_JS = Path(st.__file__).parent / "static" / "static" / "js"
KEY = "preload_js"  # LAYOUT_CSS hides its (empty) element


def chart_module() -> str | None:
    """The file name of Streamlit's Plotly chart module, or None unless exactly one is found."""
    found = sorted(path.name for path in STATIC_JS.glob("PlotlyChart.*.js"))
    return found[0] if len(found) == 1 else None


_MODULE = chart_module()
_COMPONENT = (
    st.components.v2.component(
        "latent_explorer_preload",
        html="<span></span>",
        js=(Path(__file__).parent / "preload.js").read_text().replace("__CHART_MODULE__", _MODULE),
    )
    if _MODULE
    else None
)


def preload_chart_code() -> None:
    """Ask the browser to import the chart module now (once per tab; later runs do nothing)."""
    if _COMPONENT is not None:
        _COMPONENT(key=KEY)
