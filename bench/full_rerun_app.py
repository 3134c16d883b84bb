"""The decoder page with its fragment turned into a plain call, so every slider move reruns the
whole script (sidebar, traversal grids and all). bench/browser.py serves it beside app.py to
measure what the fragment saves; the product code carries no switch for this.
"""

import runpy
from pathlib import Path

import streamlit as st
import torch

from explorer.ui.context import sidebar

ROOT = Path(__file__).resolve().parent.parent
torch.set_num_threads(1)  # as app.py
st.fragment = lambda func=None, **_: func if func is not None else (lambda f: f)  # this server only
st.set_page_config(page_title="Latent Explorer (whole-page reruns)", layout="wide")
sidebar()
runpy.run_path(str(ROOT / "explorer" / "ui" / "pages" / "decoder.py"))
