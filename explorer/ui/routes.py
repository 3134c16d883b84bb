"""Page routing: links that carry the view, and unknown paths that land on the first page.

Streamlit's own sidebar links drop the query string, so a page switch would push a history
entry without the view and Back would lose it. These links carry the URL their page would write
(urlstate.PageReads), and page_links.js keeps them current after a fragment has changed the URL.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.commands import navigation as _streamlit_navigation

from explorer.ui.bridge import component_data
from explorer.ui.lang import t

MISSING = "_page_missing"
_LINKS_JS = st.components.v2.component(
    "latent_explorer_page_links", html="<span></span>", js=(Path(__file__).parent / "page_links.js").read_text()
)
# Fits 768-1920 px: images scale down inside narrow columns instead of spilling over their
# neighbours, a label or value too long for its column wraps instead of ending in "…", and below
# 1000 px the sidebar gives the page more room. The page links' and the preload's scripts draw nothing.
LAYOUT_CSS = """<style>
[data-testid="stMain"] [data-testid="stImage"] img { max-width: 100%; height: auto; }
[data-testid="stMain"] [data-testid="stImageContainer"] { max-width: 100%; }
[data-testid="stMain"] .stMarkdownEllipsis, [data-testid="stMain"] .stMarkdownEllipsis * {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
}
/* A Markdown table wider than the column scrolls inside itself, as st.dataframe does (the tour's tables at 800 px) */
[data-testid="stMain"] [data-testid="stMarkdownContainer"] table { display: block; overflow-x: auto; }
.st-key-page_links_js, .st-key-preload_js { display: none; }
[data-testid="stSidebar"] table { font-size: 0.8rem; }
[data-testid="stSidebar"] table td, [data-testid="stSidebar"] table th { padding: 0.2rem 0.4rem; }
@media (max-width: 1000px) {
  section[data-testid="stSidebar"] { width: 230px !important; min-width: 230px !important; }
}
</style>"""


def _note_missing(ctx) -> None:
    """Instead of Streamlit's "Page not found" dialog: a note on the first page (see navigation)."""
    ctx.session_state[MISSING] = True


def navigation(pages: list) -> st.Page:
    """st.navigation with hidden built-in links; an unknown path runs the first page with a note."""
    _streamlit_navigation.send_page_not_found = _note_missing
    st.session_state.pop(MISSING, None)
    page = st.navigation(pages, position="hidden")
    st.html(LAYOUT_CSS)
    if st.session_state.pop(MISSING, False):
        st.info(t("page_missing"), icon=":material/info:")
    return page


def first_visit_hint(page: st.Page) -> None:
    """One dismissible line on the first page a new session opens, never on the tour (the line points to
    it). Dismissed, or once the person moves to another page, it stays away for the session."""
    if st.session_state.get("_hint_dismissed"):
        return
    first = st.session_state.setdefault("_hint_page", page.url_path)
    if page.url_path == "tour" or page.url_path != first:
        st.session_state["_hint_dismissed"] = True
        return
    box = st.container(horizontal=True, vertical_alignment="center")
    box.info(t("hint"), icon=":material/lightbulb:", width="stretch")
    if box.button(t("hint_dismiss"), key="dismiss_hint", icon=":material/close:"):
        st.session_state["_hint_dismissed"] = True
        st.rerun()


def page_links(box, pages: list, titles: list[str]) -> None:
    """One link per page into `box`, titled in the current language, each carrying that page's view: the
    current URL for this page, else the shared view and what that page read when it last ran (its values
    from Session State). page_links.js keeps the shared keys current when a fragment changes the URL."""
    from explorer.ui import urlstate

    reads = urlstate.PageReads(st.session_state)
    here = st.query_params.to_dict()
    queries = {p.url_path: here if p.url_path == reads.current else reads.page_query(p.url_path) for p in pages}
    with box:
        for page, title in zip(pages, titles):
            st.page_link(page, label=title, icon=page.icon, query_params=queries[page.url_path], width="stretch")
        data = {"shared": sorted(urlstate.SHARED), "pages": queries}
        _LINKS_JS(key="page_links_js", data=component_data(data))
        st.divider()
