"""Issue 14, fits the window: at 800 and 1400 px no image, chart or heading of a page overlaps another,
inside each chart the Plotly toolbar covers no title or legend, no y title lies on a neighbour and no
word of a static chart on another, and
no widget label (or metric value, or sidebar link) is cut short."""

import pytest

from tests.helpers import BROWSER_TIMEOUT_MS, chart_faults, overlaps, wait_drawn

pytestmark = pytest.mark.browser

# tour steps 2 and 6: its two charts of several panels (static SVG, not Plotly)
PAGES = ["", "tour", "tour?step=2", "tour?step=6", "decoder", "drag", "compare", "manifold", "lab", "conditional"]
PAGES += ["inference", "train"]
# Boxes of the page's images, charts and headings (visible, inside the main area), as [x0, y0, x1, y1].
BOXES = """() => [...document.querySelectorAll(
    '[data-testid=stMain] img, [data-testid=stMain] .js-plotly-plot .main-svg:first-child,'
    + '[data-testid=stMain] .le-chart > svg,'
    + '[data-testid=stMain] canvas, [data-testid=stMain] h1, [data-testid=stMain] h2, [data-testid=stMain] h3')]
  .map(e => { const r = e.getBoundingClientRect();
              return {tag: e.tagName + (e.textContent || '').slice(0, 30), box: [r.left, r.top, r.right, r.bottom]}; })
  .filter(b => b.box[2] - b.box[0] > 2 && b.box[3] - b.box[1] > 2)"""
# Texts wider than their box: Streamlit draws labels one line high with an ellipsis (stMarkdownEllipsis),
# and its sidebar links' text-overflow is an ellipsis too.
TRUNCATED = """() => [...document.querySelectorAll('[data-testid=stMain] *, [data-testid=stSidebar] *')]
  .filter(e => (e.classList.contains('stMarkdownEllipsis') || getComputedStyle(e).textOverflow === 'ellipsis')
               && e.getBoundingClientRect().width > 0 && e.scrollWidth > e.clientWidth + 1)
  .map(e => `${e.textContent.slice(0, 40)} (${e.scrollWidth} px in ${e.clientWidth})`)"""


def test_overlaps_finds_a_crossing_pair_and_ignores_neighbours():
    boxes = [
        {"tag": "a", "box": [0, 0, 10, 10]},
        {"tag": "b", "box": [5, 5, 15, 15]},
        {"tag": "c", "box": [20, 0, 30, 9]},
    ]
    assert overlaps(boxes) == [("a", "b")]
    assert overlaps(boxes[:1], others=boxes[1:]) == [("a", "b")]
    assert overlaps(boxes[2:], others=boxes[:2]) == []


# Streamlit scrolls inside its main area, so full_page=True gives the first screen only: the window is
# made as tall as the content (widths, and so the layout, stay the same) for the screenshot.
CONTENT_HEIGHT = """() => Math.max(...[...document.querySelectorAll('[data-testid=stMain] *')]
    .map(e => e.getBoundingClientRect().bottom))"""


def whole_page_screenshot(page, path, width: int, height: int = 1000) -> None:
    tall = int(min(max(page.evaluate(CONTENT_HEIGHT) + 40, height), 12_000))
    page.set_viewport_size({"width": width, "height": tall})
    wait_drawn(page)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": width, "height": height})
    wait_drawn(page)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("width", [800, 1400])
def test_no_page_overlaps_itself(browser, app_url, width, lang, shots_dir):
    """Chinese labels are shorter but taller in some fonts: both languages get the same checks (issue 24)."""
    page = browser.new_page(viewport={"width": width, "height": 1000})
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    found, charts, cut = {}, {}, {}
    for path in PAGES:
        page.goto(f"{app_url}/{path}{'&' if '?' in path else '?'}lang={lang}", timeout=BROWSER_TIMEOUT_MS)
        page.wait_for_selector("[data-testid=stSidebar] a")
        wait_drawn(page)  # the script done, every chart's svg and every image in place
        if width == 800 and lang == "en":
            name = (path or "map").replace("?step=", "-")
            whole_page_screenshot(page, shots_dir / f"layout-800-{name}.png", width)
        bad = overlaps(page.evaluate(BOXES))
        if bad:
            found[path or "map"] = bad
        inside = chart_faults(page)
        if inside:
            charts[path or "map"] = inside
        short = page.evaluate(TRUNCATED)
        if short:
            cut[path or "map"] = short
    page.close()
    assert not found, found
    assert not charts, charts
    assert not cut, cut
