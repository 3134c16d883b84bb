"""The tour in Chromium: the arrow keys walk every step in both languages, the URL follows each move,
and the browser's Back button restores the previous step."""

from urllib.parse import parse_qs, urlparse

import pytest

from explorer.i18n import CATALOGUES
from explorer.tour import STEPS
from tests.test_i18n import CJK

pytestmark = pytest.mark.browser

# The listener marks <html> once it listens; widgets load lazily, so the Next button may come later.
LISTENING = """() => document.documentElement.dataset.arrowKeys === 'ready'
                     && !!document.querySelector('.st-key-tour_next button')"""
URL_STEP = "() => new URLSearchParams(location.search).get('step') || '1'"  # step 1 is the default: not written


def shows_step(page, lang: str, step: int) -> None:
    """The URL names `step` (and keeps the language) and the page shows that step's title."""
    page.wait_for_function(f"(n) => ({URL_STEP})() === n", arg=str(step), timeout=120_000)
    page.locator("h3").filter(has_text=CATALOGUES[lang][f"s{step}_title"]).wait_for(timeout=240_000)
    assert parse_qs(urlparse(page.url).query).get("lang", ["en"]) == [lang], page.url


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_arrow_keys_walk_every_step_and_browser_back_restores_the_last(browser, app_url, lang):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{app_url}/tour?lang={lang}&step=1")
    page.wait_for_function(LISTENING, timeout=300_000)  # a fresh server builds the bank first
    shows_step(page, lang, 1)
    # No click to focus the page first, and no wait for the rerun to finish: a reader does neither.
    for step in range(2, STEPS + 1):
        page.keyboard.press("ArrowRight")
        shows_step(page, lang, step)
    page.keyboard.press("ArrowLeft")
    shows_step(page, lang, STEPS - 1)
    page.go_back()
    shows_step(page, lang, STEPS)
    assert not errors, errors
    page.close()


def test_quick_arrow_presses_each_move_one_step(browser, app_url):
    """Three → pressed faster than the page reruns are three steps, not one: each Back/Next button's target is
    fixed when it is drawn, so explorer/ui/keys.py clicks the next only after the last has moved the view."""
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(f"{app_url}/tour?step=1")
    page.wait_for_function(LISTENING, timeout=300_000)
    shows_step(page, "en", 1)
    for keys, step in ((["ArrowRight"] * 3, 4), (["ArrowRight"] * 3, 7), (["ArrowLeft"] * 2, 5)):
        for key in keys:
            page.keyboard.press(key)
            page.wait_for_timeout(30)
        shows_step(page, "en", step)
        page.wait_for_timeout(1500)  # no press left over moves it further
        shows_step(page, "en", step)
    page.close()


def chinese(page, title: str) -> None:
    """The page titled `title` is drawn in Chinese: its heading, the sidebar's links, ?lang=zh in the URL."""
    from tests.helpers import wait_drawn

    page.locator("h1").filter(has_text=title).wait_for()
    page.wait_for_function("() => new URLSearchParams(location.search).get('lang') === 'zh'")
    wait_drawn(page)
    page.locator(".st-key-page_links a").first.wait_for()  # drawn after the page (app.py's finally)
    links = page.locator(".st-key-page_links a").all_inner_texts()
    assert links and all(CJK.search(text) for text in links), links


def test_a_chinese_reader_leaves_the_tour_for_a_full_page_and_comes_back_to_a_chinese_tour(browser, app_url):
    """Step 1's "open this in the full page" link carries the language and its pick, in this tab and in a new
    one; the full page, another page, a reload and Back all stay Chinese; the sidebar's Tour link leads back to
    the tour in Chinese (issue 24)."""
    from tests.helpers import open_drawn

    zh = CATALOGUES["zh"]
    page = open_drawn(browser, f"{app_url}/tour?lang=zh&step=1", 800, 1000)
    link = page.locator("[data-testid=stMain] a").filter(has_text=zh["open_full"]).first
    query = parse_qs(urlparse(link.get_attribute("href")).query)
    assert query["lang"] == ["zh"] and "pick" in query, query
    pick = query["pick"][0]
    tab = open_drawn(browser, link.evaluate("a => a.href"), 800, 1000)  # opened in a new tab
    tab.locator(".st-key-page_links a").filter(has_text=zh["nav_tour"]).first.wait_for()
    assert parse_qs(urlparse(tab.url).query).get("lang") == ["zh"], tab.url
    tab.close()
    link.click()
    item = zh["map_item"].split("{item}")[0].format(index=pick)
    page.locator("h3").filter(has_text=item).wait_for()  # the link's pick, not the session's
    chinese(page, zh["nav_map"])
    page.locator(".st-key-page_links a").filter(has_text=zh["nav_decoder"]).first.click()
    chinese(page, zh["nav_decoder"])
    page.reload()
    chinese(page, zh["nav_decoder"])
    page.go_back()
    chinese(page, zh["nav_map"])
    page.locator("h3").filter(has_text=item).wait_for()
    tour_link = page.locator(".st-key-page_links a").filter(has_text=zh["nav_tour"]).first
    tour_link.wait_for()
    tour_link.click()
    page.locator("h1").filter(has_text=zh["page_title"]).wait_for()
    assert parse_qs(urlparse(page.url).query).get("lang") == ["zh"], page.url
    page.close()


@pytest.mark.slow  # a server of its own, started cold
def test_a_fresh_server_says_it_is_starting_before_it_draws_the_tour(browser):
    """Issue 27: a fresh server's first /tour?lang=zh showed grey placeholders for seconds while app.py imported
    torch; now a line in the reader's language says the app is starting, and goes once the page is drawn."""
    from bench.harness import streamlit_server

    zh = CATALOGUES["zh"]
    with streamlit_server() as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(300_000)
        page.goto(f"{url}/tour?lang=zh&step=1", wait_until="commit")
        starting = page.get_by_text(zh["app_starting"])
        starting.wait_for()
        assert not page.locator("h1").filter(has_text=zh["page_title"]).count()  # before the page itself
        page.locator("h1").filter(has_text=zh["page_title"]).wait_for()
        starting.wait_for(state="detached")
        page.close()


CHART_BOX = """() => {
    const svg = document.querySelector('[data-testid=stMain] .le-chart > svg');
    if (!svg) return null;
    const box = svg.getBoundingClientRect(), view = svg.viewBox.baseVal;
    const column = svg.closest('[data-testid=stVerticalBlock]').getBoundingClientRect();
    const hover = [...svg.querySelectorAll('circle > title')].map(t => t.textContent);
    return {width: box.width, height: box.height, right: box.right, column: column.width,
            ratio: view.height / view.width, hover, label: svg.getAttribute('aria-label'),
            role: svg.getAttribute('role'),
            plotly: document.querySelectorAll('[data-testid=stMain] .js-plotly-plot').length};
}"""


def test_a_step_chart_is_static_svg_that_fits_its_column_at_1400_and_800_px(browser, app_url):
    """Issue 27 item 1: a tour step's chart is inline SVG (explorer/svg_figure.py, no Plotly on the step): drawn,
    as wide as its column allows and no wider (its viewBox keeps the figure's proportions), labelled for a screen
    reader, each code's hover text (in the reader's language) its native tooltip."""
    from tests.helpers import wait_drawn

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{app_url}/tour?lang=zh&dataset=moons&pair=moons-sparse-2d&step=3")
    shows_step(page, "zh", 3)
    for width in (1400, 800):
        page.set_viewport_size({"width": width, "height": 1000})
        wait_drawn(page)
        page.wait_for_timeout(300)  # the column's new width laid out
        box = page.evaluate(CHART_BOX)
        assert box and box["plotly"] == 0, box
        assert 0.5 * box["column"] < box["width"] <= box["column"] + 1 and box["right"] <= width, (width, box)
        assert box["height"] == pytest.approx(box["width"] * box["ratio"], rel=0.02), (width, box)
        assert box["role"] == "img" and box["label"] == CATALOGUES["zh"]["s3_map"], box
        item = CATALOGUES["zh"]["fig_item"]
        assert len(box["hover"]) > 100 and all(text.startswith(item) for text in box["hover"]), box["hover"][:3]
    page.close()
