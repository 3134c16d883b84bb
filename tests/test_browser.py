"""One real browser: Debian's Chromium, driven by playwright, against `streamlit run app.py`."""

import pytest

from bench.harness import wait_for_app
from tests.helpers import DECODED

pytestmark = pytest.mark.browser


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
    page.wait_for_function(
        f"(before) => {{ const now = ({DECODED})(); return now && now !== before; }}", arg=before, timeout=30_000
    )
    after = page.evaluate(DECODED)
    assert after != before
    assert "z0=" in page.url  # the slider value is in the URL: the view can be shared
    page.close()


def test_clicking_empty_space_on_a_2d_map_decodes_that_location(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(f"{app_url}/?dataset=moons&pair=moons-sparse-2d")
    wait_for_app(page)
    plot = page.locator(".js-plotly-plot").first
    plot.wait_for(timeout=120_000)  # Plotly's 4.7 MB of JS loads slowly on a busy machine
    page.wait_for_timeout(1000)  # plotly attaches its event handlers after drawing
    box = plot.bounding_box()
    # Inside the AE's loop of codes, where no test image lies.
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.55)
    heading = page.locator("h3").filter(has_text="Empty space in the AE's map")
    heading.wait_for(timeout=30_000)
    assert page.get_by_text("AE decodes this location").count() == 1
    page.close()


def test_clicking_a_dot_shows_it_and_leaves_the_map_chart_alone(browser, app_url):
    from bench.browser import CAPTION, ITEM_XY, PLOT_READY, SPREAD_ITEMS

    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(f"{app_url}/?dataset=moons&pair=moons-sparse-2d")
    wait_for_app(page)
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
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/drag?{query}")
    wait_for_app(page)
    page.locator("canvas.le-image").first.wait_for(state="attached", timeout=30_000)
    return page, errors


def stats(page) -> dict:
    return page.evaluate(
        "() => { const s = window.__latentExplorer.stats; return {frames: s.frames, distinct: s.distinct}; }"
    )


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
    for i in range(60):  # a hand moving across the pad for about a second
        page.mouse.move(box["x"] + 20 + 5 * i, box["y"] + 200 - 2 * i)
        page.wait_for_timeout(16)
    during = stats(page)
    assert during["distinct"] - start["distinct"] >= 30  # the image followed the pointer before release
    assert caption.text_content() == before  # ... without a single server round trip
    page.mouse.up()
    page.wait_for_function(
        "(before) => [...document.querySelectorAll('[data-testid=\"stImageCaption\"]')]"
        ".some(c => c.textContent.startsWith('released: AE decodes') && c.textContent !== before)",
        arg=before,
        timeout=30_000,
    )
    assert "dz=" in page.url
    assert not errors
    page.close()


def test_arrow_keys_move_a_focused_slider_and_the_image_follows(browser, app_url):
    page, errors = open_drag(browser, app_url, "dataset=digits&pair=digits-2d&drag_model=VAE")
    slider = page.locator("input[aria-label='latent dimension 0']")
    slider.focus()
    start = stats(page)
    for _ in range(10):
        slider.press("ArrowRight")
        page.wait_for_timeout(20)
    assert stats(page)["distinct"] - start["distinct"] >= 3
    assert not errors
    page.close()


def test_server_mode_streams_values_while_dragging(browser, app_url):
    page, errors = open_drag(browser, app_url, "dataset=moons&pair=moons-sparse-2d&drag_model=AE&drag_server=true")
    pad = page.locator("canvas.le-pad")
    box = pad.bounding_box()
    seen = set()
    page.mouse.move(box["x"] + 20, box["y"] + 200)
    page.mouse.down()
    for i in range(40):
        page.mouse.move(box["x"] + 20 + 8 * i, box["y"] + 200 - 3 * i)
        page.wait_for_timeout(50)
        seen.add(
            page.evaluate(
                "() => [...document.querySelectorAll('[data-testid=\"stImageCaption\"]')]"
                ".map(c => c.textContent).find(t => t.startsWith('server: AE decodes')) || ''"
            )
        )
    page.mouse.up()
    assert len(seen - {""}) >= 3  # the server decoded several positions before the release
    assert not errors
    page.close()


def test_the_scrubber_decodes_both_models_live(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(f"{app_url}/compare?dataset=moons&pair=moons-sparse-2d")
    wait_for_app(page)
    scrub = page.locator("input[aria-label='interpolation t']")
    scrub.wait_for(timeout=30_000)
    page.locator("canvas.le-image").nth(1).wait_for(timeout=30_000)  # AE and VAE
    start = stats(page)
    box = scrub.bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    for i in range(40):
        page.mouse.move(box["x"] + 2 + i * (box["width"] - 4) / 40, box["y"] + box["height"] / 2)
        page.wait_for_timeout(16)
    moved = stats(page)
    page.mouse.up()
    assert moved["frames"] - start["frames"] >= 40  # two models per drawn frame
    released = page.get_by_text("AE at t =").filter(has_not_text="t = 0.500").first  # the start was 0.5
    released.wait_for(timeout=30_000)
    assert float(released.text_content().split("t = ")[1].split()[0]) > 0.9
    page.close()
