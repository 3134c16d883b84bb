"""The Decoder slider while other tabs wait for long requests (issue 25, class 6): p50 against the same
with none, with the long requests in worker processes (explorer/offload.py, the app's default) and, for
comparison, computed in the pages' own script threads as before (LATENT_EXPLORER_LONG=inline).

One server per mode, Chromium: the slider measured alone, then while four tabs wait for long requests (the
gaps across the test split of two 2-D pairs, a t-SNE and a UMAP fit of mnist5k-16d's 1,000 codes), then
alone again. A tab still waits while its page shows a request's progress (process mode) or Streamlit's
running indicator (inline): the figure counts only if some still waited when the slider finished.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from bench.browser import percentile, slider_latency
from bench.harness import CHROMIUM_ARGS, ROOT, chromium_path, streamlit_server, wait_for_app

TARGET = 1.5  # slider p50 while long requests run, within this factor of its p50 alone
DECODER = "decoder?dataset=digits&pair=digits-2d"
LONG = [  # each a long request (or two) of a different pair or setting: none shares another's work
    "inference?dataset=mnist5k&pair=mnist5k-2d&inference_split=true",
    "inference?dataset=moons&pair=moons-gap-2d&inference_split=true",
    "?dataset=mnist5k&pair=mnist5k-16d&proj=tsne&proj_perplexity=30",
    "?dataset=mnist5k&pair=mnist5k-16d&proj=umap&proj_n_neighbors=15&proj_min_dist=0.1",
]
# a request's progress line (its hourglass icon) or, inline, Streamlit's running indicator
WAITING = """() => document.body.innerText.includes('hourglass_top')
    || !!document.querySelector('[data-testid="stStatusWidget"]')"""


def open_long(browser, url: str) -> list:
    """The long tabs, each opened and left to wait (not awaited: inline, a tab's script runs for seconds)."""
    pages = []
    for path in LONG:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(300_000)
        page.goto(f"{url}/{path}", wait_until="commit")
        pages.append(page)
    for page in pages:  # each has started (its script is past the sidebar)
        page.wait_for_selector('[data-testid="stSidebar"]', timeout=300_000)
    return pages


def waiting(pages) -> int:
    return sum(bool(page.evaluate(WAITING)) for page in pages)


def one_mode(browser, mode: str, n: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-long-") as tmp:
        env = {
            "LATENT_EXPLORER_RUNS": str(Path(tmp) / "runs"),
            "LATENT_EXPLORER_UPLOADS": str(Path(tmp) / "up"),
            "LATENT_EXPLORER_LONG": mode,
        }
        with streamlit_server(env=env, max_seconds=1500) as url:
            first = browser.new_page(viewport={"width": 1200, "height": 900})
            first.goto(f"{url}/{DECODER}", timeout=300_000)
            wait_for_app(first, 300_000)  # the server has imported everything before anything is timed
            first.close()
            alone = slider_latency(browser, url, DECODER, n)
            pages = open_long(browser, url)
            busy = slider_latency(browser, url, DECODER, n)
            still = waiting(pages)
            for page in pages:
                page.close()
            after = slider_latency(browser, url, DECODER, n)
    return {"alone": alone + after, "busy": busy, "waiting_at_end": still}


def slider_while_long(quick: bool) -> dict:
    from playwright.sync_api import sync_playwright

    n = 8 if quick else 24
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        out = {mode: one_mode(browser, mode, n) for mode in ("process", "inline")}
        browser.close()
    return out


def rows(quick: bool, row, raw: dict) -> list[str]:
    r = slider_while_long(quick)
    raw["slider_while_long"] = r
    lines = []
    for mode, what in (("process", "in worker processes"), ("inline", "in the pages' threads (before)")):
        m = r[mode]
        alone, busy = statistics.median(m["alone"]), statistics.median(m["busy"])
        valid = m["waiting_at_end"] >= 1
        lines.append(
            row(
                f"Decoder slider p50 while 4 tabs wait for long requests, {what}",
                f"{busy:.3f} s",
                f"≤ {TARGET}x alone" if mode == "process" else "-",
                f"alone: {alone:.3f} s (p95 {percentile(m['alone'], 95):.3f} s); with them: p95 "
                f"{percentile(m['busy'], 95):.3f} s: **{busy / alone:.2f}x**; {m['waiting_at_end']} of 4 tabs "
                "still waiting at the end" + ("" if valid else " (none: the figure does not count)"),
                (valid and busy / alone <= TARGET) if mode == "process" else None,
            )
        )
    return lines


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    out = slider_while_long("--quick" in sys.argv)
    for mode, m in out.items():
        alone, busy = statistics.median(m["alone"]), statistics.median(m["busy"])
        print(
            f"{mode}: alone p50 {alone:.3f} s (n={len(m['alone'])}), with long requests p50 {busy:.3f} s "
            f"p95 {percentile(m['busy'], 95):.3f} s: {busy / alone:.2f}x; waiting at end {m['waiting_at_end']}"
        )
