"""Issue 14, fits the window: at 800 and 1400 px no image, chart or heading of a page overlaps another."""

import pytest

from bench.harness import ROOT, wait_for_app

pytestmark = pytest.mark.browser

PAGES = ["", "decoder", "drag", "compare", "manifold", "lab", "conditional"]
# Boxes of the page's images, charts and headings (visible, inside the main area), as [x0, y0, x1, y1].
BOXES = """() => [...document.querySelectorAll(
    '[data-testid=stMain] img, [data-testid=stMain] .js-plotly-plot .main-svg:first-child,'
    + '[data-testid=stMain] canvas, [data-testid=stMain] h1, [data-testid=stMain] h2, [data-testid=stMain] h3')]
  .map(e => { const r = e.getBoundingClientRect();
              return {tag: e.tagName + (e.textContent || '').slice(0, 30), box: [r.left, r.top, r.right, r.bottom]}; })
  .filter(b => b.box[2] - b.box[0] > 2 && b.box[3] - b.box[1] > 2)"""


def overlaps(boxes: list[dict], slack: float = 1.0) -> list[tuple[str, str]]:
    """Pairs of boxes that overlap by more than `slack` px each way (nested elements excluded)."""
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = a["box"], b["box"]
            inside = (ax0 >= bx0 and ax1 <= bx1 and ay0 >= by0 and ay1 <= by1) or (
                bx0 >= ax0 and bx1 <= ax1 and by0 >= ay0 and by1 <= ay1
            )
            if not inside and min(ax1, bx1) - max(ax0, bx0) > slack and min(ay1, by1) - max(ay0, by0) > slack:
                out.append((a["tag"], b["tag"]))
    return out


def test_overlaps_finds_a_crossing_pair_and_ignores_neighbours():
    boxes = [
        {"tag": "a", "box": [0, 0, 10, 10]},
        {"tag": "b", "box": [5, 5, 15, 15]},
        {"tag": "c", "box": [20, 0, 30, 9]},
    ]
    assert overlaps(boxes) == [("a", "b")]


@pytest.mark.parametrize("width", [800, 1400])
def test_no_page_overlaps_itself(browser, app_url, width):
    page = browser.new_page(viewport={"width": width, "height": 1000})
    found = {}
    for path in PAGES:
        page.goto(f"{app_url}/{path}")
        page.wait_for_selector("[data-testid=stSidebar] a", timeout=90_000)
        wait_for_app(page)
        page.wait_for_timeout(1500)  # plotly and the canvases draw after the script ends
        if width == 800:
            page.screenshot(path=str(ROOT / "docs" / f"layout-800-{path or 'map'}.png"), full_page=True)
        bad = overlaps(page.evaluate(BOXES))
        if bad:
            found[path or "map"] = bad
    page.close()
    assert not found, found
