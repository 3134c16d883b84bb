"""One real browser: Debian's Chromium, driven by playwright, against `streamlit run app.py`."""

import os

import pytest

from tests.browser import CHROMIUM_ARGS, chromium_path, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser

# The src and caption of the image captioned 'VAE decodes …': both change when the image does.
DECODED = """() => {
    for (const cap of document.querySelectorAll('[data-testid="stImageCaption"]')) {
        if (!cap.textContent.startsWith('VAE decodes')) continue;
        let box = cap.parentElement;
        while (box && !box.querySelector('img')) box = box.parentElement;
        if (box) return box.querySelector('img').src + '|' + cap.textContent;
    }
    return null;
}"""


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI: .ci/run installs Debian's chromium package")
        pytest.skip("no Chromium here: apt-get install chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def app_url():
    with streamlit_server() as url:
        yield url


def test_moving_a_slider_in_chromium_changes_the_decoded_image(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(f"{app_url}/decoder?dataset=digits&pair=digits-2d")
    wait_for_app(page)
    page.wait_for_function(f"() => ({DECODED})() !== null")
    before = page.evaluate(DECODED)

    thumb = page.locator('[data-testid="stSlider"]').filter(has_text="z0").get_by_role("slider")
    thumb.focus()
    for _ in range(20):
        thumb.press("ArrowRight")
    page.wait_for_function(f"(before) => {{ const now = ({DECODED})(); return now && now !== before; }}", arg=before,
                           timeout=30_000)
    after = page.evaluate(DECODED)
    assert after != before
    assert "z0=" in page.url  # the slider value is in the URL: the view can be shared
    page.close()


def test_clicking_empty_space_on_a_2d_map_decodes_that_location(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(f"{app_url}/?dataset=moons&pair=moons-sparse-2d")
    wait_for_app(page)
    plot = page.locator(".js-plotly-plot").first
    plot.wait_for()
    page.wait_for_timeout(1000)  # plotly attaches its event handlers after drawing
    box = plot.bounding_box()
    # Inside the AE's loop of codes, where no test image lies.
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.55)
    heading = page.locator("h3").filter(has_text="Empty space in the AE's map")
    heading.wait_for(timeout=30_000)
    assert page.get_by_text("AE decodes this location").count() == 1
    page.close()
