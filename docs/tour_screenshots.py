"""Screenshots of every tour step at 1400 px into docs/tour/: `python docs/tour_screenshots.py [lang]`."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import CHROMIUM_ARGS, chromium_path, streamlit_server, wait_for_app  # noqa: E402
from explorer.tour import STEPS  # noqa: E402


def main(lang: str = "en") -> None:
    from playwright.sync_api import sync_playwright

    out = ROOT / "docs" / "tour"
    out.mkdir(parents=True, exist_ok=True)
    with streamlit_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(f"{url}/tour?lang={lang}&step=1")
        wait_for_app(page)
        for step in range(1, STEPS + 1):
            if step > 1:
                page.locator("h1").first.click(timeout=240_000)  # the first render builds the bank
                page.keyboard.press("ArrowRight")
                page.wait_for_function(f"() => location.search.includes('step={step}')", timeout=120_000)
            page.wait_for_timeout(1500)  # the rerun starts after the URL changes
            wait_for_app(page, timeout_ms=240_000)
            page.wait_for_function("() => !document.querySelector('[data-testid=\"stSpinner\"]')", timeout=240_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(out / f"{lang}-step{step:02d}.png"), full_page=True)
            print(step, page.url, flush=True)
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
