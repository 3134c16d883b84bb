"""The reader's language: the one way a page gets it (current) and its words (t).

The language is a view key like the pair: Session State "lang", mirrored into the URL by urlstate
(?lang=zh), so page links, the tour's full-page links, reloads, Back/Forward and pasted links keep it.
With no lang in the URL the browser's locale decides (st.context.locale). The sidebar's switch
(switch()) changes it on every page.
"""

from __future__ import annotations

from functools import partial

import streamlit as st

from explorer.i18n import LANGUAGES, NAMES, error_words, language_of, quoted_texts, tr
from explorer.ui import urlstate
from explorer.ui.text import plain
from training.errors import Phrase

KEY = "lang"


def browser_language() -> str:
    try:
        return language_of(st.context.locale)
    except (AttributeError, RuntimeError):  # no browser (a bare script run)
        return "en"


def current() -> str:
    """The language the page is drawn in: the session's (set from the URL by urlstate.begin), else the
    URL's (before begin has run: app.py's page titles), else the browser's."""
    value = st.session_state.get(KEY) or st.query_params.get(KEY)
    return value if value in LANGUAGES else browser_language()


def t(key: str, **values) -> str:
    """The catalogue text of `key` in the current language, formatted with values."""
    return tr(current(), key, **values)


def words():
    """t bound to the current language, for a format_func: Streamlit (and AppTest) call it after the script
    run, when the session's language can no longer be read (a zh page's options came back in English)."""
    return partial(tr, current())


def seed() -> str:
    """After urlstate.begin(): a valid language in Session State. The URL carries lang whenever it is
    not the English default of a non-Chinese browser, so a reload never flips it to the browser's."""
    browser = browser_language()
    st.session_state.setdefault(KEY, browser)
    lang = urlstate.seed(KEY, browser, options=list(LANGUAGES))
    # seed() recorded the browser's language as the default (left out of the URL); zh is always written,
    # and en too when the browser would choose zh.
    st.session_state[urlstate.DEFAULTS][KEY] = "en" if browser == "en" else ""
    return lang


def switch() -> None:
    """English / 中文 in the sidebar (in both languages, so either reader finds it)."""
    st.sidebar.segmented_control(
        "Language · 语言", LANGUAGES, format_func=NAMES.get, key=KEY, required=True, width="stretch"
    )


def error_text(exc: BaseException | Phrase, safe: bool = True) -> str:
    """An exception's message (or a Phrase's words) in the current language (explorer.i18n.error_words). safe:
    values Markdown-escaped (for st.error); False for a caller that escapes the whole line itself."""
    return error_words(t, exc, plain if safe else str)


def show_error(message: str, exc: BaseException | Phrase, **kwargs) -> None:
    """st.error(message) (the error's words, error_text(exc), inside it), then the text from outside the app that
    those words leave out (onnxruntime's, Python's, a dead worker's log line) as it was written, in a collapsed
    detail: the reader first reads what failed in their language."""
    st.error(message, **kwargs)
    show_originals(exc)


def show_originals(exc: BaseException | Phrase | None) -> None:
    texts = quoted_texts(exc) if exc is not None else []
    if any(texts):
        with st.expander(t("original_text"), expanded=False, icon=":material/notes:"):
            st.code("\n".join(texts), language=None, wrap_lines=True)
