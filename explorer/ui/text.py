"""Text from a file, an upload, the URL or an exception, made safe to show inside Markdown.

Streamlit renders st.markdown / caption / error / subheader (and radio options) as Markdown:
a dataset name `![b](http://host/beacon.png)` would make every viewer's browser fetch that
address, and `:red[...]` or `**` would restyle the page. plain() escapes every character
Markdown (or Streamlit's directives) gives a meaning, so the text shows exactly as written.
"""

from __future__ import annotations

import re

_INLINE = re.compile(r"([\\`*_{}\[\]<>()#!|~$:&])")  # meaningful anywhere in a line
_LEADING = re.compile(r"^(\s*(?:\d+)?)([-+=>.)])")  # list or quote markers: only at the start


def plain(text: object, limit: int = 500) -> str:
    """str(text), one line, at most limit characters, every Markdown character escaped."""
    one_line = " ".join(str(text).split())
    if len(one_line) > limit:
        one_line = one_line[: limit - 1] + "…"
    escaped = _INLINE.sub(r"\\\1", one_line)
    return _LEADING.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)
