"""String catalogues, one gettext .po file per language (en.po, zh.po), with the same keys and placeholders.

A msgid is a key the code names (never an English sentence); its msgstr is the text, with str.format
placeholders. Babel reads both files once per process (about 10 ms for both, measured when the tour's
dict catalogues moved here); .po rather than Python dicts so translators' tools (Poedit, Weblate)
open them. tr(lang, key, **values) formats one string; an unknown language falls back to English.

Adding a string: one entry in en.po and one in zh.po with the same msgid (a short snake_case key, prefixed
by its page: map_, dec_, drag_, cmp_, grid_, inf_, lab_, cond_, train_, side_, fig_, err_, help_), the same
placeholders. Pages call explorer.ui.lang.t(key, **values) (the current language); code outside
explorer/ui is given its words (figures take a t argument) and never reads the language itself. An error
raised in training/ that the app shows carries key= and its values (training/errors.py).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from training.errors import LatentExplorerError, Phrase, Quoted, originals

HERE = Path(__file__).parent
LANGUAGES = ("en", "zh")  # the URL's ?lang= values
NAMES = {"en": "English", "zh": "中文"}


def read_catalogue(path: Path) -> dict[str, str]:
    """key -> text of one .po file (the header entry, msgid "", left out)."""
    from babel.messages.pofile import read_po

    with path.open("rb") as f:
        catalogue = read_po(f)
    return {m.id: m.string for m in catalogue if m.id}


CATALOGUES: dict[str, dict[str, str]] = {lang: read_catalogue(HERE / f"{lang}.po") for lang in LANGUAGES}


def tr(lang: str, key: str, **values) -> str:
    text = CATALOGUES.get(lang, CATALOGUES["en"])[key]
    return text.format(**values) if values else text


Words = Callable[..., str]  # t(key, **values) -> the catalogue's text: what figures and sentences are given
ENGLISH: Words = partial(tr, "en")


def error_words(t: Words, exc: BaseException | Phrase, escape: Callable[[object], str] = str) -> str:
    """An error's message in t's language: its catalogue text when training/ gave it a key, values that are
    keyed themselves worded the same way and the others passed through escape; else a sentence saying that its
    text is quoted below (quoted_texts gives that text). A key or values the catalogue cannot format (a hostile
    job.json) fall back so too."""
    key = getattr(exc, "key", None) if isinstance(exc, (LatentExplorerError, Phrase)) else None
    if key:
        shown = {k: v if isinstance(v, (int, float)) else escape(v) for k, v in exc.values.items()}
        shown |= {k: error_words(t, v, escape) for k, v in exc.values.items() if isinstance(v, (BaseException, Phrase))}
        try:
            return t(key, **shown)
        except (KeyError, ValueError, IndexError, TypeError):
            pass
    return t("err_untranslated", detail=error_words(t, unkeyed(exc), escape))


def unkeyed(exc: BaseException | Phrase) -> Quoted:
    """An error with no words of this app's (Python's, a library's, or a key the catalogue cannot format): its
    own text, quoted."""
    return Quoted(exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__)


def quoted_texts(exc: BaseException | Phrase) -> list[str]:
    """The text from outside that error_words names but does not show (explorer/ui/lang.py shows it, collapsed)."""
    keyed = isinstance(exc, (LatentExplorerError, Phrase)) and getattr(exc, "key", None)
    if keyed and isinstance(exc, Quoted):
        return [str(exc)]
    if not keyed:
        return [str(unkeyed(exc))]
    found = originals(exc)
    for value in exc.values.values():
        if isinstance(value, BaseException) and not getattr(value, "key", None):
            found += [q for q in quoted_texts(value) if q not in found]
    return found


def language_of(locale: str | None) -> str:
    """The catalogue for a browser locale ("zh-CN", "zh-Hans-TW", "en-GB"): zh for any Chinese, else en."""
    return "zh" if isinstance(locale, str) and locale.lower().split("-")[0].split("_")[0] == "zh" else "en"
