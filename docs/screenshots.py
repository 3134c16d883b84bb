"""Screenshots of every page for the README: `python docs/screenshots.py` (starts its own server).

Uses Debian's Chromium through playwright, as the browser tests do.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import CHROMIUM_ARGS, chromium_path, streamlit_server, wait_for_app  # noqa: E402

# file -> (URL path and query, a tab to click first or None)
SHOTS = {
    "latent_map.png": ("?dataset=moons&pair=moons-sparse-2d&pick=120", None),
    "decoder.png": ("decoder?dataset=digits&pair=digits-2d", None),
    "compare.png": ("compare?dataset=moons&pair=moons-sparse-2d", None),
    "manifold.png": ("manifold?dataset=mnist5k&pair=mnist5k-2d", None),
    "half_moon_lab.png": ("lab?dataset=moons&pair=moons-sparse-2d", None),
    "drag.png": ("drag?dataset=moons&pair=moons-sparse-2d&drag_model=AE&dz=-5.0,-2.0", None),
    "conditional_class.png": ("conditional?cond_class=3", None),
    "conditional_fill.png": ("conditional?cond_item=7&cond_mask=top", "Fill in a missing half"),
    "train.png": ("train?dataset=digits&pair=digits-8d", None),
    "inference.png": ("inference?dataset=moons&pair=moons-sparse-2d&pick=250", None),
}


def main() -> None:
    from playwright.sync_api import sync_playwright

    out = ROOT / "docs"
    with streamlit_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        for name, (path, tab) in SHOTS.items():
            page.goto(f"{url}/{path}")
            wait_for_app(page)
            if tab:
                page.get_by_role("tab", name=tab).click()
            page.wait_for_timeout(1500)  # let plotly finish drawing
            page.screenshot(path=str(out / name), full_page=True)
            print("wrote", out / name)
        browser.close()


if __name__ == "__main__":
    main()
