"""Latent Explorer: `streamlit run app.py`. Routes pages and draws the shared sidebar."""

import sys
from pathlib import Path

import streamlit as st

from explorer.i18n import tr
from explorer.ui import lang, settle_garbage, urlstate
from explorer.ui.preload import preload_chart_code

# A bundled icon: a Material icon as page_icon is fetched from fonts.gstatic.com (offline: an error).
ICON = Path(__file__).parent / "explorer" / "ui" / "icon.png"
st.set_page_config(page_title="Latent Explorer", page_icon=ICON, layout="wide")
# Before torch and the app's own imports (seconds on a cold start): the browser loads the chart code
# meanwhile, so the first map is drawn as soon as it arrives.
preload_chart_code()
if "torch" not in sys.modules:  # a fresh server: seconds of imports before the page can draw; it says so meanwhile
    starting = st.empty()
    starting.caption(tr(lang.current(), "app_starting"))
    import torch  # noqa: F401

    import explorer.ui.context  # noqa: F401
    import explorer.ui.routes  # noqa: F401

    starting.empty()

import torch  # noqa: E402

from explorer.ui.context import (  # noqa: E402
    NUMERIC_FAILURES,
    PAIRLESS,
    PageEnd,
    failure_reason,
    pair_metrics,
    pairless_sidebar,
    sidebar,
)
from explorer.ui.routes import first_visit_hint, navigation, page_links  # noqa: E402
from explorer.ui.text import plain  # noqa: E402
from training.onnxset import OnnxError  # noqa: E402

# One thread decodes these small models fastest on a shared 2-core CPU (bench/ measures it).
torch.set_num_threads(1)

# Material icons: Debian's Chromium has no emoji font. Titles in the reader's language (explorer/ui/lang.py);
# the sidebar's links are labelled again after the run, once the URL's language is restored.
LANG = lang.current()
PAGES = [
    st.Page("explorer/ui/pages/tour.py", title=tr(LANG, "nav_tour"), icon=":material/tour:", url_path="tour"),
    st.Page("explorer/ui/pages/latent_map.py", title=tr(LANG, "nav_map"), icon=":material/scatter_plot:", default=True),
    st.Page("explorer/ui/pages/decoder.py", title=tr(LANG, "nav_decoder"), icon=":material/tune:", url_path="decoder"),
    st.Page("explorer/ui/pages/drag.py", title=tr(LANG, "nav_drag"), icon=":material/pan_tool:", url_path="drag"),
    st.Page(
        "explorer/ui/pages/compare.py", title=tr(LANG, "nav_compare"), icon=":material/compare:", url_path="compare"
    ),
    st.Page(
        "explorer/ui/pages/manifold.py", title=tr(LANG, "nav_manifold"), icon=":material/grid_on:", url_path="manifold"
    ),
    st.Page(
        "explorer/ui/pages/inference.py",
        title=tr(LANG, "nav_inference"),
        icon=":material/functions:",
        url_path="inference",
    ),
    st.Page("explorer/ui/pages/half_moon.py", title=tr(LANG, "nav_lab"), icon=":material/science:", url_path="lab"),
    st.Page(
        "explorer/ui/pages/conditional.py",
        title=tr(LANG, "nav_conditional"),
        icon=":material/extension:",
        url_path="conditional",
    ),
    st.Page(
        "explorer/ui/pages/train.py", title=tr(LANG, "nav_train"), icon=":material/model_training:", url_path="train"
    ),
]
PAGE_KEYS = ["nav_tour", "nav_map", "nav_decoder", "nav_drag", "nav_compare", "nav_manifold", "nav_inference"]
PAGE_KEYS += ["nav_lab", "nav_conditional", "nav_train"]  # the catalogue keys of PAGES' titles, in order

page = navigation(PAGES)  # links drawn below, once the page has set the view they carry
urlstate.apply()  # every query parameter parsed and clamped before a widget reads it
urlstate.begin(page.url_path)  # the URL into Session State on a new session or Back/Forward
lang.seed()  # ?lang=, else the browser's language
lang.switch()
links = st.sidebar.container(key="page_links")
metrics = None
try:
    if page.url_path in PAIRLESS:
        pairless_sidebar()
    else:
        metrics = sidebar()
    first_visit_hint(page)
    page.run()
except PageEnd:  # the page said what it cannot show (View.needs): the links and metrics below still draw
    pass
except NUMERIC_FAILURES as exc:  # a model that computes nonsense: the page says so, never a traceback
    st.error(lang.t("view_not_drawn", pair=plain(st.session_state.get("pair", "")), reason=failure_reason(exc)))
except OnnxError as exc:  # a user's graph failed or misbehaved here: this page says so, the others go on
    st.error(lang.t("err_onnx_page", reason=plain(exc)))
finally:
    urlstate.publish()  # the view into the URL, whichever way the page ended (st.stop, st.rerun)
    page_links(links, PAGES, [lang.t(key) for key in PAGE_KEYS])
    if metrics is not None:  # after the page: the first map is drawn before the table's imports
        pair_metrics(metrics)
settle_garbage()  # after the page: what it cached is frozen with the rest
