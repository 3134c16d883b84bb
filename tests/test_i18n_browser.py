"""The reader's language where AppTest cannot look (issue 24), in Chromium: Streamlit's file uploader draws its
own words (explorer/ui/uploader.py draws the catalogue's in their place)."""

from __future__ import annotations

import pytest

from explorer.i18n import CATALOGUES
from tests.test_i18n_walk import CJK, english_left

AFTER = "(e, p) => getComputedStyle(e, p).content"
# The uploader's own English (Streamlit 1.67): none of it may be visible, in either language.
STREAMLIT_WORDS = ("Upload", "per file", "Drag and drop", "not allowed", "Error")
TYPES = (
    "ZIP",
    "NPZ",
    "JSON",
    "SAFETENSORS",
    "ONNX",
    "NPY",
    "CSV",
    "TSV",
    "TXT",
)  # files' types, as the field writes them


def visible_words(locator) -> tuple[str, str]:
    """What a reader sees of an element: its rendered text (without icons' ligature names and the widget's label)
    and the text drawn
    after its descendants (the catalogue's words, explorer/ui/uploader.py)."""
    skip = set(locator.locator("[data-testid=stIconMaterial]").all_inner_texts())
    skip |= set(locator.locator("[data-testid=stWidgetLabel]").all_inner_texts())  # the app's label, its own words
    text = "\n".join(line for line in locator.inner_text().splitlines() if line.strip() not in skip)
    drawn = locator.evaluate(
        "e => [e, ...e.querySelectorAll('*')].map(n => getComputedStyle(n, '::after').content)"
        ".filter(c => c.startsWith('\"')).map(c => JSON.parse(c)).join(' ')"
    )
    return text, drawn


def check_words(locator, lang: str, wanted: list[str]) -> None:
    text, drawn = visible_words(locator)
    seen = f"{text} {drawn}"
    for words in wanted:
        assert words in seen, (words, seen)
    for words in STREAMLIT_WORDS:  # hidden: none of Streamlit's own words is drawn
        assert words not in text, (words, text)
    if lang == "zh":
        assert not english_left([seen], set(TYPES)), seen
    else:
        assert not CJK.search(seen), seen


def fits(locator) -> None:
    """Every element drawn inside the uploader ends inside it and cuts none of its text."""
    faults = locator.evaluate(
        """e => { const box = e.getBoundingClientRect(); const out = [];
        for (const n of e.querySelectorAll('button, span, p, [data-testid]')) {
          const r = n.getBoundingClientRect();
          if (!r.width) continue;
          if (r.left < box.left - 1 || r.right > box.right + 1) out.push(['outside', n.outerHTML.slice(0, 120)]);
          if (n.scrollWidth > n.clientWidth + 1 && getComputedStyle(n).overflow !== 'visible')
            out.push(['cut', n.outerHTML.slice(0, 120)]);
        } return out; }"""
    )
    assert not faults, faults


@pytest.mark.browser
@pytest.mark.slow  # one Train page, drawn at two widths: about 20 s
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_file_uploaders_speak_the_readers_language_at_1400_and_800_px(browser, app_url, lang):
    """The button, the limit line, the words while a file is dragged over, a refused file's line and tooltip: the
    catalogue's, at 1400 and 800 px, inside the widget; Tab reaches the button by its catalogue name and Enter
    opens the file chooser."""
    from tests.helpers import open_drawn, wait_drawn

    words = CATALOGUES[lang]
    errors: list[str] = []
    page = open_drawn(browser, f"{app_url}/train?lang={lang}", 1400, 1000, errors=errors)
    page.set_default_timeout(60_000)  # drawn already: what follows takes seconds
    sep = words["list_sep"]
    uploaders = {
        "upload_data": ["ZIP", "NPZ"],
        "ckpt_files": ["JSON", "SAFETENSORS", "ONNX", "NPY", "CSV", "TSV", "TXT"],
    }
    for width in (1400, 800):
        page.set_viewport_size({"width": width, "height": 1000})
        for key, types in uploaders.items():
            up = page.locator(f".st-key-{key}")
            up.scroll_into_view_if_needed()
            limit = words["upload_limit"].format(mib=50, types=sep.join(types))
            check_words(up, lang, [words["upload_button"], limit])
            assert f'button "{words["upload_button"]}"' in up.aria_snapshot(), up.aria_snapshot()
            fits(up)

    up = page.locator(".st-key-ckpt_files")
    # The page's likelihood scores are a long request: once they arrive the page reruns, and an Enter pressed
    # while it redraws opened no chooser (CI under load). Wait for their table, as a reader who sees it would
    # (no progress bar is no sign: one is drawn only after a grace of seconds, waiting.FRESH_GRACE).
    scores = page.locator("[data-testid=stExpander]", has_text=words["lik_title"])
    scores.locator("[data-testid=stDataFrame]").wait_for(state="attached")
    wait_drawn(page)
    page.locator(".st-key-ckpt_path input").click()  # the field before the uploader, then Tab as a reader would
    on_button = "document.activeElement.matches('.st-key-ckpt_files [data-testid=stFileUploaderDropzone] button')"
    for _ in range(6):  # the Load button and the label's help on the way
        page.keyboard.press("Tab")
        if page.evaluate(on_button):
            break
    assert page.evaluate(on_button), page.evaluate("document.activeElement.outerHTML")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    assert chooser.value.is_multiple()

    up.locator("input[type=file]").set_input_files(
        [{"name": "notes.zip", "mimeType": "application/zip", "buffer": b"hi"}]
    )
    chip = up.locator("[data-testid=stFileChip]").first
    chip.wait_for()
    check_words(chip, lang, [words["upload_wrong_type"].format(types=sep.join(uploaders["ckpt_files"]))])
    chip.hover()
    tip = page.locator("[data-testid=stTooltipErrorContent]")
    tip.wait_for(state="attached")  # its own words hidden, the catalogue's drawn after them
    check_words(tip, lang, [words["upload_refused"].format(mib=50)])
    single = page.locator(".st-key-upload_data")  # dragged over last: a dispatched drag left the
    # other's button opening no file chooser afterwards (Chromium, en)
    zone = single.locator("[data-testid=stFileUploaderDropzone]")
    dragged = page.evaluate_handle(
        "() => { const d = new DataTransfer(); "
        "d.items.add(new File(['{}'], 'vae.json', {type: 'application/json'})); return d; }"
    )
    zone.dispatch_event("dragenter", {"dataTransfer": dragged})
    single.locator("[data-testid=stFileUploaderDropzone] > div:not([data-testid]) > span").wait_for(state="attached")
    check_words(single, lang, [words["upload_drop"]])
    zone.dispatch_event("dragleave", {"dataTransfer": dragged})

    assert not errors, errors
    page.close()


@pytest.mark.browser
@pytest.mark.slow  # two page loads and a rerun: about 15 s
def test_a_keyboard_reader_switches_to_chinese_and_a_pasted_link_opens_in_chinese(browser, app_url):
    """From an English page, Tab reaches the sidebar's language switch and Enter on 中文 redraws the page in
    Chinese with ?lang=zh; that URL pasted into a second tab opens the same page in Chinese."""
    from urllib.parse import parse_qs, urlparse

    from tests.helpers import open_drawn, wait_drawn
    from tests.test_browser_tour import chinese

    zh, en = CATALOGUES["zh"], CATALOGUES["en"]
    page = open_drawn(browser, f"{app_url}/decoder", 1400, 1000)  # Chromium's locale here is en-US
    page.set_default_timeout(60_000)
    page.locator("h1").filter(has_text=en["nav_decoder"]).wait_for()
    on_switch = "document.activeElement.closest('.st-key-lang') !== null && document.activeElement.innerText"
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate(on_switch):
            break
    for key in ("ArrowRight", "Tab"):  # the switch's chosen option takes the focus first (English)
        if page.evaluate(on_switch) != "中文":
            page.keyboard.press(key)
    assert page.evaluate(on_switch) == "中文", page.evaluate("document.activeElement.outerHTML.slice(0, 200)")
    page.keyboard.press("Enter")
    chinese(page, zh["nav_decoder"])
    wait_drawn(page)
    assert parse_qs(urlparse(page.url).query).get("lang") == ["zh"], page.url
    pasted = open_drawn(browser, page.url, 800, 1000)  # a second tab, the URL pasted
    chinese(pasted, zh["nav_decoder"])
    pasted.close()
    page.close()
