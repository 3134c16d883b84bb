"""Latent Explorer: `streamlit run app.py`. Routes pages and draws the shared sidebar."""

import streamlit as st
import torch

from explorer.ui import settle_garbage, urlstate
from explorer.ui.context import sidebar

# One thread decodes these small models fastest on a shared 2-core CPU (bench/ measures it).
torch.set_num_threads(1)

st.set_page_config(page_title="Latent Explorer", page_icon="🌗", layout="wide")

PAGES = [
    st.Page("explorer/ui/pages/latent_map.py", title="Latent map", icon="🗺️", url_path="map", default=True),
    st.Page("explorer/ui/pages/decoder.py", title="Decoder", icon="🎚️", url_path="decoder"),
    st.Page("explorer/ui/pages/drag.py", title="Drag to decode", icon="✋", url_path="drag"),
    st.Page("explorer/ui/pages/compare.py", title="AE vs VAE", icon="🌗", url_path="compare"),
    st.Page("explorer/ui/pages/manifold.py", title="Manifold grid", icon=":material/grid_on:", url_path="manifold"),
    st.Page("explorer/ui/pages/half_moon.py", title="Half-moon lab", icon="🔬", url_path="lab"),
    st.Page("explorer/ui/pages/conditional.py", title="Conditional VAE", icon="🧩", url_path="conditional"),
    st.Page("explorer/ui/pages/train.py", title="Train", icon="🏋️", url_path="train"),
]

page = st.navigation(PAGES)
urlstate.apply()  # every query parameter parsed and clamped before a widget reads it
sidebar()
page.run()
settle_garbage()  # after the page: what it cached is frozen with the rest
