"""String catalogues, one per language, with the same keys and the same format placeholders.

tr(lang, key, **values) formats one string; an unknown language falls back to English. The tour
uses them first; other pages can follow key by key.
"""

from __future__ import annotations

from explorer.i18n import en, zh

CATALOGUES: dict[str, dict[str, str]] = {"en": en.STRINGS, "zh": zh.STRINGS}
LANGUAGES = tuple(CATALOGUES)  # the URL's ?lang= values
NAMES = {"en": "English", "zh": "中文"}


def tr(lang: str, key: str, **values) -> str:
    text = CATALOGUES.get(lang, en.STRINGS)[key]
    return text.format(**values) if values else text
