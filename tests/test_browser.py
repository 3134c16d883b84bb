"""One real browser: Debian's Chromium, driven by playwright, against `streamlit run app.py`.

Every wait is for a condition (a drawn page, a new frame, a caption, the URL), never a fixed sleep:
on a loaded machine the tests take longer, they do not fail.
"""

import re

import pytest

from tests.helpers import DECODED, click_until, drag_in_three_stops, open_drawn, server_caption

pytestmark = pytest.mark.browser
FRAMES = "() => window.__latentExplorer.stats.frames"


def test_moving_a_slider_in_chromium_changes_the_decoded_image(browser, app_url):
    page = open_drawn(browser, f"{app_url}/decoder?dataset=digits&pair=digits-2d", 1400, 1200)
    page.wait_for_function(f"() => ({DECODED})() !== null")
    before = page.evaluate(DECODED)

    thumb = page.locator('[data-testid="stSlider"]').filter(has_text="z0").get_by_role("slider")
    thumb.focus()
    for _ in range(20):
        thumb.press("ArrowRight")
    page.wait_for_function(f"(before) => {{ const now = ({DECODED})(); return now && now !== before; }}", arg=before)
    assert page.evaluate(DECODED) != before
    page.wait_for_url(re.compile(r"[?&]z0="))  # the slider value is in the URL: the view can be shared
    page.close()


def test_clicking_empty_space_on_a_2d_map_decodes_that_location(browser, app_url):
    page = open_drawn(browser, f"{app_url}/?dataset=moons&pair=moons-sparse-2d", 1400, 1200)
    plot = page.locator(".js-plotly-plot").first
    # Inside the AE's loop of codes, where no test image lies.
    click_until(page, plot, (0.25, 0.55), page.locator("h3").filter(has_text="Empty space in the AE's map"))
    decoded = page.get_by_text("AE decodes this location")
    decoded.first.wait_for(timeout=60_000)  # the heading can arrive before the decode's caption under load
    assert decoded.count() == 1
    page.close()


def test_clicking_a_dot_shows_it_and_leaves_the_map_chart_alone(browser, app_url):
    from bench.browser import CAPTION, ITEM_XY, PLOT_READY, SPREAD_ITEMS

    page = open_drawn(browser, f"{app_url}/?dataset=moons&pair=moons-sparse-2d", 1400, 1200)
    page.wait_for_function(PLOT_READY, timeout=120_000)
    page.wait_for_function("() => document.querySelectorAll('svg.le-pick path').length === 2", timeout=30_000)
    before = page.locator("h3").filter(has_text="Test item").inner_text()
    # A mark on the chart's node and a count of Plotly redraws: a re-sent figure would replace or redraw it.
    page.evaluate(
        "() => { const gd = document.querySelector('.js-plotly-plot'); gd.dataset.mark = 'kept';"
        " window.__redraws = 0; gd.on('plotly_afterplot', () => window.__redraws++); }"
    )
    x, y = page.evaluate(ITEM_XY, [page.evaluate(SPREAD_ITEMS)[1]])[0]
    page.mouse.click(x, y)
    new_heading = (
        "(b) => [...document.querySelectorAll('h3')]"
        ".some(h => h.innerText.startsWith('Test item ') && h.innerText !== b)"
    )
    page.wait_for_function(new_heading, arg=before, timeout=30_000)
    page.wait_for_function("() => /[?&]pick=\\d+/.test(location.search)", timeout=10_000)
    item = int(page.url.split("pick=")[1].split("&")[0])
    heading = page.locator("h3").filter(has_text=f"Test item {item}:")
    assert heading.count() == 1
    assert all(page.evaluate(CAPTION, f"{m} reconstruction (MSE") for m in ("AE", "VAE"))
    page.wait_for_timeout(500)
    kept = page.evaluate(
        "() => [document.querySelector('.js-plotly-plot').dataset.mark, window.__redraws,"
        " document.querySelector('svg.le-pick').dataset.pick, document.querySelectorAll('svg.le-pick path').length]"
    )
    assert kept == ["kept", 0, f"test item {item}", 2]  # same node, not redrawn; the star moved to the pick
    page.reload()  # the URL restores the pick, and the star is drawn at it
    heading.wait_for(timeout=60_000)
    page.wait_for_function(f"() => document.querySelector('svg.le-pick')?.dataset.pick === 'test item {item}'")
    page.close()


# --- drag to decode ----------------------------------------------------------------------------


def open_drag(browser, url: str, query: str):
    errors = []
    page = open_drawn(browser, f"{url}/drag?{query}", 1400, 1400, errors)
    page.locator("canvas.le-image").first.wait_for(state="attached")
    page.wait_for_function("() => !!window.__latentExplorer")
    return page, errors


def stats(page) -> dict:
    return page.evaluate(
        "() => { const s = window.__latentExplorer.stats; return {frames: s.frames, distinct: s.distinct}; }"
    )


def move_and_wait_for_a_frame(page, x: float, y: float, per_move: int = 1) -> None:
    """One pointer move, then wait until the browser has drawn the decode(s) it asked for."""
    before = page.evaluate(FRAMES)
    page.mouse.move(x, y)
    page.wait_for_function(f"(n) => ({FRAMES})() >= n + {per_move}", arg=before)


@pytest.mark.parametrize("pair, model", [("moons-sparse-2d", "AE"), ("moons-sparse-2d", "VAE"), ("digits-8d", "VAE")])
def test_in_browser_decode_equals_the_pytorch_decoder(browser, app_url, pair, model):
    import numpy as np

    from explorer import webdecoder
    from tests.helpers import ROOT
    from training.store import load_set

    dataset = "moons" if "moons" in pair else "digits"
    page, errors = open_drag(browser, app_url, f"dataset={dataset}&pair={pair}&drag_model={model}")
    decoder = load_set(ROOT / "checkpoints" / pair)[model.lower()].model
    ident = webdecoder.decoder_id(decoder)
    page.wait_for_function("(id) => !!window.__latentExplorer.decoders[id]", arg=ident)
    z = np.random.default_rng(0).standard_normal((6, decoder.latent_dim)) * 2
    got = np.array(
        [page.evaluate("([id, z]) => window.latentExplorerDecode(id, z)", [ident, row.tolist()]) for row in z]
    )
    assert np.abs(got - webdecoder.decode_reference(decoder, z)).max() < 1e-4
    assert not errors
    page.close()


def test_dragging_across_the_latent_pad_draws_many_frames_then_reports_the_release(browser, app_url):
    page, errors = open_drag(browser, app_url, "dataset=moons&pair=moons-sparse-2d&drag_model=AE")
    caption = page.get_by_text("released: AE decodes")
    before = caption.text_content()
    start = stats(page)
    pad = page.locator("canvas.le-pad")
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 200)
    page.mouse.down()
    for i in range(60):  # a hand moving across the pad; each move is drawn before the next
        move_and_wait_for_a_frame(page, box["x"] + 25 + 5 * i, box["y"] + 198 - 2 * i)
    during = stats(page)
    assert during["distinct"] - start["distinct"] >= 30  # the image followed the pointer before release
    assert caption.text_content() == before  # ... without a single server round trip
    page.mouse.up()
    page.wait_for_function(
        "(before) => [...document.querySelectorAll('[data-testid=\"stImageCaption\"]')]"
        ".some(c => c.textContent.startsWith('released: AE decodes') && c.textContent !== before)",
        arg=before,
    )
    page.wait_for_url(re.compile(r"[?&]dz="))
    assert not errors
    page.close()


def test_arrow_keys_move_a_focused_slider_and_the_image_follows(browser, app_url):
    page, errors = open_drag(browser, app_url, "dataset=digits&pair=digits-2d&drag_model=VAE")
    slider = page.locator("input[aria-label='latent dimension 0']")
    slider.focus()
    start = stats(page)
    for _ in range(10):
        before = page.evaluate(FRAMES)
        slider.press("ArrowRight")
        page.wait_for_function(f"(n) => ({FRAMES})() > n", arg=before)
    assert stats(page)["distinct"] - start["distinct"] >= 3
    assert not errors
    page.close()


def test_server_mode_streams_values_while_dragging(browser, app_url):
    page, errors = open_drag(browser, app_url, "dataset=moons&pair=moons-sparse-2d&drag_model=AE&drag_server=true")
    seen = drag_in_three_stops(page, server_caption("AE"))
    assert len(seen - {""}) >= 3  # the server decoded several positions before the release
    assert not errors
    page.close()


def test_the_scrubber_decodes_both_models_live(browser, app_url):
    page = open_drawn(browser, f"{app_url}/compare?dataset=moons&pair=moons-sparse-2d", 1400, 1600)
    scrub = page.locator("input[aria-label='interpolation t']")
    scrub.wait_for()
    page.locator("canvas.le-image").nth(1).wait_for()  # AE and VAE
    start = stats(page)
    box = scrub.bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    for i in range(1, 41):  # two models per drawn frame, each move drawn before the next
        move_and_wait_for_a_frame(page, box["x"] + 2 + i * (box["width"] - 4) / 40, box["y"] + box["height"] / 2, 2)
    moved = stats(page)
    page.mouse.up()
    assert moved["frames"] - start["frames"] >= 80
    released = page.get_by_text("AE at t =").filter(has_not_text="t = 0.500").first  # the start was 0.5
    released.wait_for()
    assert float(released.text_content().split("t = ")[1].split()[0]) > 0.9
    page.close()
