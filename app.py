"""Latent Explorer: `streamlit run app.py`. Routes pages and draws the shared sidebar."""

from pathlib import Path

import streamlit as st

from explorer.ui.preload import preload_chart_code

# A bundled icon: a Material icon as page_icon is fetched from fonts.gstatic.com (offline: an error).
ICON = Path(__file__).parent / "explorer" / "ui" / "icon.png"
st.set_page_config(page_title="Latent Explorer", page_icon=ICON, layout="wide")
# Before torch and the app's own imports (seconds on a cold start): the browser loads the chart code
# meanwhile, so the first map is drawn as soon as it arrives.
preload_chart_code()

import torch  # noqa: E402

from explorer.i18n import tr  # noqa: E402
from explorer.ui import settle_garbage, urlstate  # noqa: E402
from explorer.ui.context import pair_metrics, sidebar  # noqa: E402
from explorer.ui.routes import first_visit_hint, navigation, page_links  # noqa: E402

# One thread decodes these small models fastest on a shared 2-core CPU (bench/ measures it).
torch.set_num_threads(1)

# Material icons: Debian's Chromium has no emoji font. The tour's language: the URL's, or on the run that
# leaves the tour (Streamlit drops the tour's own parameters from it) the session's.
LANG = st.query_params.get("lang") or st.session_state.get("lang") or "en"
PAGES = [
    st.Page(
        "explorer/ui/pages/tour.py",
        title=tr(LANG, "page_title"),
        icon=":material/tour:",
        url_path="tour",
    ),
    st.Page("explorer/ui/pages/latent_map.py", title="Latent map", icon=":material/scatter_plot:", default=True),
    st.Page("explorer/ui/pages/decoder.py", title="Decoder", icon=":material/tune:", url_path="decoder"),
    st.Page("explorer/ui/pages/drag.py", title="Drag to decode", icon=":material/pan_tool:", url_path="drag"),
    st.Page("explorer/ui/pages/compare.py", title="AE vs VAE", icon=":material/compare:", url_path="compare"),
    st.Page("explorer/ui/pages/manifold.py", title="Manifold grid", icon=":material/grid_on:", url_path="manifold"),
    st.Page(
        "explorer/ui/pages/inference.py", title="Exact inference", icon=":material/functions:", url_path="inference"
    ),
    st.Page("explorer/ui/pages/half_moon.py", title="Half-moon lab", icon=":material/science:", url_path="lab"),
    st.Page(
        "explorer/ui/pages/conditional.py", title="Conditional VAE", icon=":material/extension:", url_path="conditional"
    ),
    st.Page("explorer/ui/pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
]

page = navigation(PAGES)  # links drawn below, once the page has set the view they carry
urlstate.apply()  # every query parameter parsed and clamped before a widget reads it
urlstate.begin()  # the URL into Session State on a new session or Back/Forward
links = st.sidebar.container(key="page_links")
metrics = None
try:
    metrics = sidebar()
    first_visit_hint()
    page.run()
finally:
    urlstate.publish()  # the view into the URL, whichever way the page ended (st.stop, st.rerun)
    page_links(links, PAGES)
    if metrics is not None:  # after the page: the first map is drawn before the table's imports
        pair_metrics(metrics)
settle_garbage()  # after the page: what it cached is frozen with the rest
