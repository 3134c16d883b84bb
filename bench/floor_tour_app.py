"""The floor for the tour's step change: a Next button whose fragment re-sends a step of plain elements (as many
as a text step of the tour sends; ?chart=1: the first of them a small Plotly line chart; ?chart=svg: the same chart as
static SVG, as the tour draws its charts, explorer/ui/bridge.static_chart), beside a one-slider
fragment whose move re-sends an image and its caption (the Decoder slider's floor, as bench/floor_app.py).
Nothing is computed: what is left is Streamlit's and Chromium's."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer.ui.bridge import static_chart

ELEMENTS = int(st.query_params.get("elements", "14"))  # below the Next button (bench/tour.py FLOOR_ELEMENTS)
CHART = st.query_params.get("chart", "0")


@st.fragment
def slider() -> None:
    value = st.slider("z0", -3.0, 3.0, 0.0, 0.03, key="z0")
    st.image(np.full((8, 8), int(127 + 40 * value), dtype=np.uint8), caption=f"VAE decodes ({value:.2f})", width=64)


@st.fragment
def steps() -> None:
    step = st.session_state.setdefault("step", 1)
    st.button("Next", key="tour_next", on_click=lambda: st.session_state.update(step=step + 1))
    st.subheader(f"Step {step}")
    figure = go.Figure(go.Scatter(x=[1, 2, 3], y=[step, 2, 3], mode="lines+markers"))
    if CHART == "1":
        st.plotly_chart(figure, key=f"chart{step}")
    elif CHART == "svg":
        static_chart(figure, label=f"Step {step}")
    for i in range(ELEMENTS - 2 - (CHART != "0")):
        (st.caption if i % 3 == 2 else st.markdown)(f"Sentence {i} of step {step}: **{step * 0.123 + i:.3f}** nats.")


slider()
steps()
