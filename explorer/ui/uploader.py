"""st.file_uploader in the reader's language.

Streamlit 1.67 writes its uploader's own words in English and offers no parameter or locale for them (its docs
and issues name none): the button ("Upload"), the limit line ("50MB per file • ZIP, NPZ"), the words shown while
a file is dragged over it, and why a file was refused. A CSS rule scoped to the widget's key hides each of those
texts and writes the catalogue's in its place (CSS generated content: React redraws the widget's nodes, a rule
stays). The button stays Streamlit's own button, so Tab reaches it and Enter or Space opens the file chooser; its
accessible name is the text drawn in its place.
"""

from __future__ import annotations

import streamlit as st

from explorer.ui.lang import t
from training.limits import MAX_UPLOAD_BYTES

ZONE = '[data-testid="stFileUploaderDropzone"]'
# Where each of the widget's own texts sits, in the order uploader_words gives the catalogue's: "p" the text is a
# paragraph inside the element (hidden; the words drawn after it), "own" the element's own text (shrunk to nothing;
# the words drawn after it at the text's size, 14 px in Streamlit's theme).
SWAPS = (
    (f'{ZONE} button [data-testid="stMarkdownContainer"]', "p"),
    ('[data-testid="stFileUploaderDropzoneInstructions"] span', "own"),
    (f"{ZONE} > div:not([data-testid]) > span", "own"),  # shown while a file is dragged over the zone
    ('[data-testid="stFileChip"] [role="alert"]', "own"),  # a file of a type the widget does not take
    ('[data-testid="stTooltipErrorContent"]', "own"),  # the same file's tooltip (drawn outside the widget: unscoped)
)


def css_string(text: str) -> str:
    """text as a CSS string literal that cannot end the string or the <style> element it sits in."""
    escaped = "".join(c if c.isalnum() or c in " ,.·•、，：:()（）" else f"\\{ord(c):x} " for c in text)
    return f'"{escaped}"'


def uploader_words(types: list[str], many: bool) -> tuple[str, ...]:
    """The button, the limit line, the words while dragging, a refused type, a refused file's tooltip: in the
    reader's language."""
    kinds = t("list_sep").join(kind.upper() for kind in types)
    return (
        t("upload_button"),
        t("upload_limit", mib=MAX_UPLOAD_BYTES // 2**20, types=kinds),
        t("upload_drop_many" if many else "upload_drop"),
        t("upload_wrong_type", types=kinds),
        t("upload_refused", mib=MAX_UPLOAD_BYTES // 2**20),
    )


def uploader_css(key: str, words: tuple[str, ...]) -> str:
    rules = []
    for (where, how), text in zip(SWAPS, words, strict=True):
        scope = "" if "Tooltip" in where else f".st-key-{key}"
        # visibility keeps the hidden English out of the accessibility tree too; the drawn words are visible
        # and may wrap: Streamlit cuts its own line with an ellipsis, which cut a longer one at 800 px
        hide = "{ display: none; }" if how == "p" else "{ font-size: 0; visibility: hidden; white-space: normal; "
        hide += "" if how == "p" else "overflow: visible; text-overflow: clip; }"
        size = "" if how == "p" else " font-size: 0.875rem; visibility: visible;"
        rules.append(f"{scope} {where}{' > p' if how == 'p' else ''} {hide}")
        rules.append(f"{scope} {where}::after {{ content: {css_string(text)};{size} }}")
    return "<style>\n" + "\n".join(rules) + "\n</style>"


def file_uploader(label: str, *, key: str, type: list[str], accept_multiple_files: bool = False, **kwargs):
    """st.file_uploader with its own words from the catalogue (the arguments are st.file_uploader's)."""
    st.html(uploader_css(key, uploader_words(type, accept_multiple_files)))
    return st.file_uploader(label, key=key, type=type, accept_multiple_files=accept_multiple_files, **kwargs)
