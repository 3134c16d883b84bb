"""The floor for the slider benchmark: one slider, and the page prints its value. Nothing else."""

import streamlit as st

value = st.slider("z0", -3.0, 3.0, 0.0, 0.03, key="z0")
st.image([[int(127 + 40 * value)] * 8] * 8, caption=f"VAE decodes ({value:.2f})", width=64)
