"""In Chromium, long requests as a user meets them (issue 25, class 6): in worker processes, the page shows
their progress in the reader's language and stays usable, another tab's slider answers meanwhile, the
result is drawn without a reload and kept for the next visit, and Cancel stops one."""

import pytest

from tests.helpers import DECODED, open_drawn, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LONG = "?dataset=mnist5k&pair=mnist5k-16d&proj=tsne&proj_perplexity=30&lang=zh"  # 1,000 codes: seconds
TSNE = "?dataset=digits&pair=digits-8d&proj=tsne&proj_perplexity=40&lang=zh"
WAITING = "() => document.body.innerText.includes('hourglass_top')"
CAPTION = "() => document.querySelector('[data-testid=stForm] [data-testid=stMarkdownContainer]')?.innerText || ''"


def open_waiting(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.set_default_timeout(300_000)
    page.goto(url)
    page.wait_for_function(WAITING)
    return page


def test_a_long_request_shows_progress_leaves_other_tabs_free_and_arrives_without_a_reload(browser, offload_url):
    url = offload_url
    a = open_waiting(browser, url + "/" + LONG)
    text = a.inner_text('[data-testid="stMain"]')
    assert "编码的投影" in text and any(w in text for w in ("正在启动", "等待", "已计算", "排队"))  # in Chinese
    assert a.get_by_role("button", name="取消").is_visible()
    assert "PCA" in a.evaluate(CAPTION)  # the map is drawn meanwhile, with PCA, and says so

    b = open_drawn(browser, url + "/decoder?dataset=digits&pair=digits-2d")  # a second tab, another page
    before = b.evaluate(DECODED)
    b.get_by_role("slider").first.focus()
    b.keyboard.press("ArrowRight")
    b.wait_for_function(f"() => ({DECODED})() !== {before!r}", timeout=120_000)  # it answers meanwhile

    a.wait_for_function("() => !document.body.innerText.includes('hourglass_top')", timeout=600_000)
    a.wait_for_function(f"() => ({CAPTION})().includes('t-SNE')", timeout=120_000)  # drawn, no reload
    assert not a.get_by_role("button", name="取消").count()
    a.reload()
    wait_drawn(a)
    assert "t-SNE" in a.evaluate(CAPTION) and not a.evaluate(WAITING)  # kept: the next visit draws at once
    for page in (a, b):
        page.close()


def test_cancel_stops_a_long_request_and_run_again_starts_it(browser, offload_url):
    url = offload_url
    page = open_waiting(browser, url + "/" + TSNE)
    page.get_by_role("button", name="取消").click()
    page.get_by_text("已取消").wait_for()
    assert not page.evaluate(WAITING) and "PCA" in page.evaluate(CAPTION)
    page.get_by_role("button", name="重新运行").click()
    page.wait_for_function(WAITING)
    page.wait_for_function(f"() => ({CAPTION})().includes('t-SNE')", timeout=600_000)
    page.close()
