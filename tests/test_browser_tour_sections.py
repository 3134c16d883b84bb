"""Issue 27 item 9's live sections in Chromium at 800 px, in English and Chinese: the tour's step 4 (the
encoder's sigma over the bundled VAEs) and step 7 (p(x) as a mixture, its components drawn), the Inference
page's three ways to the posterior and the Train page's likelihood choice, each opened as a reader would."""

import re

import pytest

from explorer.i18n import CATALOGUES
from explorer.tour import MIXTURE_SHOWN

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # about a minute a language (the sections compute)

PAIR = "dataset=moons&pair=moons-sparse-2d"
# (page and its query, the label a reader clicks to open the section or None, the result sentence's key)
SECTIONS = [
    ("tour?step=4", None, "s4_info_result"),
    ("tour?step=7", None, "s7_mixture_result"),
    ("inference", "inf_methods_toggle", "inf_methods_result"),
    ("train", "lik_title", "lik_gaussian_mse"),
]
# The main column is no wider than an 800 px window: nothing pushes the page sideways.
FITS = """() => { const m = document.querySelector('[data-testid="stMain"]');
                  return m.scrollWidth <= m.clientWidth + 1; }"""


def words_of(text: str) -> str:
    """The longest run of a catalogue sentence that is text as written: no placeholder, no Markdown mark."""
    pieces = re.split(r"\{[^}]*\}|[*_`$\\]", text)
    return max((p.strip() for p in pieces), key=len)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_each_live_section_shows_its_measured_sentence_at_800_px(browser, app_url, lang):
    from tests.helpers import open_drawn, wait_drawn

    words, errors = CATALOGUES[lang], []
    for path, opener, result in SECTIONS:
        sep = "&" if "?" in path else "?"
        page = open_drawn(browser, f"{app_url}/{path}{sep}lang={lang}&{PAIR}", 800, 1000, errors)
        if opener is not None:
            page.get_by_text(words[opener], exact=True).first.click()
            wait_drawn(page)
        page.get_by_text(words_of(words[result])).first.wait_for()
        assert page.evaluate(FITS), (path, lang)
        if result == "s4_info_result":  # one row a bundled VAE, every sigma printed
            assert page.locator("[data-testid=stMain] table").count() == 1
        if result == "s7_mixture_result":  # the components as decodes, each captioned with its weight and share
            share = words_of(words["s7_component"])
            assert page.locator("[data-testid=stMain] figcaption").filter(has_text=share).count() == MIXTURE_SHOWN
        page.close()
    assert not errors, errors
