"""Issue 14, cold start: no file watcher, and the browser loads Streamlit's chart code while the server
is still importing (explorer/ui/preload.py), once; the app asks nothing of any host but its own."""

import time

import pytest

from explorer.ui import preload
from tests.helpers import BROWSER_TIMEOUT_MS, wait_drawn


def test_streamlit_ships_the_one_chart_module_the_preload_names():
    # A Streamlit release that renames or splits its chart module turns the preload off (charts still
    # load, later): this fails so the next upgrade notices.
    name = preload.chart_module()
    assert name is not None and name.startswith("PlotlyChart.") and name.endswith(".js")
    assert (preload.STATIC_JS / name).stat().st_size > 1_000_000  # the module with Plotly itself


@pytest.mark.browser
def test_chart_code_arrives_before_the_first_map_and_is_fetched_once(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    requests, failed, errors, figure_at = [], [], [], []
    page.on("request", lambda r: requests.append((time.monotonic(), r.url)))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    # the latent map's figure is the one large frame of the first run (over 50 kB; the rest are small)
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived", lambda f: figure_at.append(time.monotonic()) if f and len(f) > 50_000 else None
        ),
    )
    page.goto(app_url, timeout=BROWSER_TIMEOUT_MS)
    wait_drawn(page)

    chart = [(t, url) for t, url in requests if "/static/js/PlotlyChart." in url]
    assert len(chart) == 1, chart  # Streamlit's own import found the module loaded
    assert figure_at and chart[0][0] < figure_at[0], "the chart code was only asked for after the figure came"
    assert page.evaluate("window.__latentExplorerPreload.state") == "done"
    assert page.locator(".st-key-preload_js").evaluate("e => getComputedStyle(e).display") == "none"
    # nothing from another host (a Material page icon came from fonts.gstatic.com and failed offline)
    assert [url for _, url in requests if not url.startswith((app_url, "blob:", "data:"))] == []
    assert failed == [] and errors == [], (failed, errors)
    assert page.evaluate("document.querySelector('link[rel~=icon]').href").startswith(app_url)
    page.close()


def test_the_app_starts_without_a_file_watcher():
    # With it, every start walked the project folder and its .venv: a cold `make run` to a drawn map took
    # 16.7 s against 11.7 s without (and up to 21 s); runOnSave is off, so it served nobody.
    import tomllib

    from bench.harness import ROOT

    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["fileWatcherType"] == "none" and server["runOnSave"] is False
