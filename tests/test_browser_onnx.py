"""A user's ONNX pair in Chromium: upload it on the Train page, open the latent map, click a code,
move a Decoder slider, reload."""

import pytest

from bench.harness import streamlit_server
from tests.helpers import BROWSER_TIMEOUT_MS, DECODED, load_on_train_page, open_drawn, wait_drawn, wait_still

pytestmark = pytest.mark.browser


def test_upload_an_onnx_pair_then_map_click_slider_and_reload(browser, tmp_path):
    from bench.browser import CAPTION, ITEM_XY, PLOT_READY, SPREAD_ITEMS
    from training.onnxio import export_set
    from training.store import set_path

    exported = export_set(set_path("moons-sparse-2d"), tmp_path / "exported")  # stands in for the user's files
    env = {"LATENT_EXPLORER_RUNS": str(tmp_path / "runs"), "LATENT_EXPLORER_UPLOADS": str(tmp_path / "uploads")}
    with streamlit_server(env=env, max_seconds=900) as url:
        errors: list = []
        page = open_drawn(browser, f"{url}/train?dataset=moons&pair=moons-sparse-2d", 1400, 1400, errors)
        files = sorted(str(p) for p in exported.iterdir())
        load_on_train_page(page, files, page.locator(".st-key-ckpt_files").get_by_text("onnx.json"), "uploaded-onnx")

        page.goto(f"{url}/?dataset=moons&pair=runs/uploaded-onnx", timeout=BROWSER_TIMEOUT_MS)
        wait_drawn(page)
        assert "ONNX graphs" in page.locator("[data-testid=stSidebar]").inner_text()
        page.wait_for_function(PLOT_READY, timeout=BROWSER_TIMEOUT_MS)
        page.wait_for_timeout(1000)  # plotly attaches its event handlers after drawing
        before = page.locator("h3").filter(has_text="Test item").inner_text()
        x, y = page.evaluate(ITEM_XY, [page.evaluate(SPREAD_ITEMS)[1]])[0]
        page.mouse.click(x, y)
        page.wait_for_function(
            "(b) => [...document.querySelectorAll('h3')]"
            ".some(h => h.innerText.startsWith('Test item ') && h.innerText !== b)",
            arg=before,
        )
        page.wait_for_function(f"() => ({CAPTION})('AE reconstruction') !== null")

        page.goto(f"{url}/decoder?dataset=moons&pair=runs/uploaded-onnx", timeout=BROWSER_TIMEOUT_MS)
        wait_drawn(page)
        page.wait_for_function(f"() => ({DECODED})() !== null")
        shown = page.evaluate(DECODED)
        thumb = page.locator('[data-testid="stSlider"]').filter(has_text="z0").get_by_role("slider")
        thumb.focus()
        for _ in range(20):
            thumb.press("ArrowRight")
        page.wait_for_function(f"(b) => {{ const now = ({DECODED})(); return now && now !== b; }}", arg=shown)
        page.wait_for_url("**z0=**")
        caption = wait_still(page, CAPTION, "VAE decodes")  # after the last queued rerun

        page.reload(timeout=BROWSER_TIMEOUT_MS)
        wait_drawn(page)
        page.wait_for_function(f"(c) => ({CAPTION})('VAE decodes') === c", arg=caption)  # the same code again
        assert "pair=runs%2Fuploaded-onnx" in page.url or "pair=runs/uploaded-onnx" in page.url
        assert not page.locator("[data-testid=stException]").count()
        assert not errors, errors
        page.close()
