"""The floor for the slider benchmark: one slider, and the page prints its value. Nothing else.

(The value is shown as an image caption, so the benchmark waits on the same kind of element
as on the decoder page.)
"""

import numpy as np
import streamlit as st

value = st.slider("z0", -3.0, 3.0, 0.0, 0.03, key="z0")
st.image(np.full((8, 8), int(127 + 40 * value), dtype=np.uint8), caption=f"VAE decodes ({value:.2f})", width=64)
