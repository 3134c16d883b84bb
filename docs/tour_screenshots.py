"""Screenshots of every tour step at 1400 px into docs/tour/: `python docs/tour_screenshots.py [lang]`."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import CHROMIUM_ARGS, chromium_path, streamlit_server, wait_for_app  # noqa: E402
from explorer.i18n import CATALOGUES  # noqa: E402
from explorer.tour import STEPS  # noqa: E402

WIDTH, MIN_HEIGHT = 1400, 1100
READY = """() => document.documentElement.dataset.arrowKeys === 'ready'
                 && !!document.querySelector('.st-key-tour_next button')"""
# The step's title is drawn and nothing is still loading (skeletons), running (spinner) or left over (stale).
SETTLED = """(title) => [...document.querySelectorAll('h3')].some((h) => h.textContent.includes(title))
    && !document.querySelector('[data-stale="true"], [data-testid="stSkeleton"], [data-testid="stSpinner"]')"""
HEIGHT = "() => document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight + 160"


def settle(page, title: str) -> None:
    for _ in range(2):  # twice: a rerun can start just after the first check
        page.wait_for_function(SETTLED, arg=title, timeout=240_000)
        wait_for_app(page, timeout_ms=240_000)
        page.wait_for_timeout(1500)


def main(lang: str = "en") -> None:
    from playwright.sync_api import sync_playwright

    out = ROOT / "docs" / "tour"
    out.mkdir(parents=True, exist_ok=True)
    with streamlit_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": WIDTH, "height": MIN_HEIGHT})
        page.goto(f"{url}/tour?lang={lang}&step=1")
        for step in range(1, STEPS + 1):
            if step > 1:  # the first render builds the bank; the key listener marks <html> when it listens
                page.set_viewport_size({"width": WIDTH, "height": MIN_HEIGHT})
                page.wait_for_function(READY, timeout=240_000)
                page.keyboard.press("ArrowRight")
                page.wait_for_function(f"() => location.search.includes('step={step}')", timeout=120_000)
            settle(page, CATALOGUES[lang][f"s{step}_title"])
            # The app scrolls inside its main block: grow the window to the step's height to take it whole.
            page.set_viewport_size({"width": WIDTH, "height": max(MIN_HEIGHT, page.evaluate(HEIGHT))})
            page.wait_for_timeout(1000)
            page.screenshot(path=str(out / f"{lang}-step{step:02d}.png"))
            print(step, page.url, flush=True)
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
