"""The catalogues (explorer/i18n/*.po): the same keys and placeholders in every language, every key the
code names present, every key present named by the code, and the language chosen once and kept."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from explorer.i18n import CATALOGUES, LANGUAGES, language_of, tr

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "app.py", *sorted((ROOT / "explorer").rglob("*.py")), *sorted((ROOT / "training").rglob("*.py"))]
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")  # ideographs, CJK punctuation


def placeholders(text: str) -> set[str]:
    """The str.format fields of text, with their format specs ("{x:.2f}" -> "x:.2f")."""
    return {f"{name}:{spec}" for _, name, spec, _ in string.Formatter().parse(text) if name is not None}


def literals() -> tuple[set[str], list[re.Pattern]]:
    """Every string constant in the code, and a pattern for every f-string or "prefix_" + name (a key
    the code builds: f"s{step}_title", "regime_" + regime)."""
    found: set[str] = set()
    patterns: list[re.Pattern] = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
            elif isinstance(node, ast.JoinedStr):
                parts = [re.escape(v.value) if isinstance(v, ast.Constant) else ".+" for v in node.values]
                patterns.append(re.compile("".join(parts)))
            elif (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Add)
                and isinstance(node.left, ast.Constant)
                and isinstance(node.left.value, str)
            ):
                patterns.append(re.compile(re.escape(node.left.value) + ".+"))
    return found, patterns


def named_keys() -> set[str]:
    """Keys passed as a literal to t(...) / tr(lang, ...) / c.t(...) anywhere in the code."""
    keys = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            position = {"t": 0, "tr": 1}.get(name)
            if position is None or len(node.args) <= position:
                continue
            arg = node.args[position]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                keys.add(arg.value)
    return keys


def test_every_language_has_the_same_keys_and_placeholders():
    en = CATALOGUES["en"]
    assert len(en) > 100
    for lang in LANGUAGES:
        catalogue = CATALOGUES[lang]
        assert set(catalogue) == set(en), (lang, set(catalogue) ^ set(en))
        differ = {k: (en[k], catalogue[k]) for k in en if placeholders(en[k]) != placeholders(catalogue[k])}
        assert not differ, (lang, differ)
        assert all(text.strip() or key == "empty" for key, text in catalogue.items()), lang


def test_english_has_no_chinese_and_chinese_is_chinese():
    assert not [k for k, text in CATALOGUES["en"].items() if CJK.search(text)]
    # every zh text with words in it has Chinese (a key left in English would have none)
    words = {k: re.sub(r"\{[^}]*\}", "", text) for k, text in CATALOGUES["zh"].items()}  # placeholders out
    latin_only = [k for k, text in words.items() if re.search(r"[A-Za-z]{4,}", text) and not CJK.search(text)]
    assert set(latin_only) <= ALLOWED_LATIN_ONLY, set(latin_only) - ALLOWED_LATIN_ONLY


# Texts that are the same in both languages: symbols and the field's names.
ALLOWED_LATIN_ONLY: set[str] = set()


def test_every_key_the_code_names_exists_and_every_key_is_used():
    missing = named_keys() - set(CATALOGUES["en"])
    assert not missing, missing
    found, patterns = literals()
    unused = [k for k in CATALOGUES["en"] if k not in found and not any(p.fullmatch(k) for p in patterns)]
    assert not unused, unused


def test_a_format_mistake_is_caught_by_the_placeholder_check():
    assert placeholders("{a:.2f} and {b}") == {"a:.2f", "b:"}
    assert placeholders("{a:.2f} and {b}") != placeholders("{a} and {b}")


@pytest.mark.parametrize(
    "locale, lang",
    [("zh-CN", "zh"), ("zh-Hans-TW", "zh"), ("zh", "zh"), ("en-US", "en"), ("fr-FR", "en"), (None, "en"), ("", "en")],
)
def test_the_browser_locale_picks_the_catalogue(locale, lang):
    assert language_of(locale) == lang


def test_tr_formats_and_an_unknown_language_falls_back_to_english():
    assert tr("xx", "nav_map") == CATALOGUES["en"]["nav_map"]
    assert tr("zh", "item_phase", phase=0.5) == "月相 0.500"
