"""The floor for the cold-start benchmark: a fresh Streamlit process that imports torch and plotly
and draws one Plotly chart (so the browser loads the same chart code as the latent map). Nothing else."""

import plotly.graph_objects as go
import streamlit as st
import torch  # noqa: F401  (imported, as the app must)

st.plotly_chart(go.Figure(go.Scatter(x=[0, 1], y=[0, 1])))
