"""Screenshots of every page in Chinese for README.zh-CN.md: `python docs/zh_screenshots.py` (starts its own
server; writes docs/zh/<page>.png at 1400 px). Uses Debian's Chromium through playwright, as the browser tests do,
with a Chinese browser locale; a Chinese font must be installed (fonts-wqy-microhei, as .ci/run does)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import CHROMIUM_ARGS, chromium_path, streamlit_server  # noqa: E402
from tests.helpers import wait_drawn  # noqa: E402
from tests.test_layout import whole_page_screenshot  # noqa: E402

# file -> URL path and query (the same views as docs/screenshots.py, in Chinese)
SHOTS = {
    "tour.png": "tour?dataset=moons&pair=moons-sparse-2d&step=2",
    "latent_map.png": "?dataset=moons&pair=moons-sparse-2d&pick=120",
    "decoder.png": "decoder?dataset=digits&pair=digits-2d",
    "drag.png": "drag?dataset=moons&pair=moons-sparse-2d",
    "compare.png": "compare?dataset=moons&pair=moons-sparse-2d",
    "manifold.png": "manifold?dataset=mnist5k&pair=mnist5k-2d",
    "inference.png": "inference?dataset=moons&pair=moons-sparse-2d&pick=250",
    "half_moon_lab.png": "lab?dataset=moons&pair=moons-sparse-2d",
    "conditional.png": "conditional?cond_class=3",
    "train.png": "train?dataset=digits&pair=digits-8d",
}


def main(url: str | None = None) -> None:
    """url: a running server's address (else this starts one on a free port)."""
    import contextlib

    from playwright.sync_api import sync_playwright

    out = ROOT / "docs" / "zh"
    out.mkdir(exist_ok=True)
    server = contextlib.nullcontext(url) if url else streamlit_server()
    with server as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000}).new_page()
        page.set_default_timeout(300_000)
        for name, path in SHOTS.items():
            page.goto(f"{url}/{path}{'&' if '?' in path else '?'}lang=zh")
            page.wait_for_selector("[data-testid=stSidebar] a")
            wait_drawn(page)
            whole_page_screenshot(page, out / name, 1400)
            print("wrote", out / name)
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
