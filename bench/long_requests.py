"""The Decoder slider beside long requests (issue 25, class 6), Chromium, one fresh server per mode.

1. The same long request in a worker (explorer/offload.py, the app's default) vs in the page's own script
   thread as before (LATENT_EXPLORER_LONG=inline): the Decoder page opened with a t-SNE of mnist5k-16d's
   1,000 codes that nothing has computed yet (a new perplexity each open), timed from opening it to its
   slider's first answer; p50 of each mode and their ratio.
2. Worker mode only: the slider alone, then while four other tabs wait for long requests (the gaps across
   the test split of two 2-D pairs, a t-SNE and a UMAP fit), then alone again. A tab still waits while its
   page shows a request's progress: the figure counts only if some still waited when the slider finished.
   (Measured inline too before: its tabs had all finished before the slider did, so it never counted.)
"""

from __future__ import annotations

import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.browser import CAPTION, percentile, slider_latency
from bench.harness import CHROMIUM_ARGS, ROOT, chromium_path, streamlit_server, wait_for_app

TARGET = 1.5  # slider p50 while long requests run, within this factor of its p50 alone
DECODER = "decoder?dataset=digits&pair=digits-2d"
SAME_PAGE = "decoder?dataset=mnist5k&pair=mnist5k-16d&proj=tsne"  # the map's t-SNE: the page's own long request
SAME_PERPLEXITIES = (31, 33, 35, 37, 39, 41)  # a new request each open (t-SNE at 30 is the four tabs' own)
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


def slider_beside_long(browser, url: str, n: int) -> list[float]:
    """Seconds from opening the Decoder page with a fresh t-SNE request (a new perplexity each time: nothing
    kept) until its first slider has answered one move, n times."""
    times = []
    for i in range(n):
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        t0 = time.perf_counter()
        page.goto(f"{url}/{SAME_PAGE}&proj_perplexity={SAME_PERPLEXITIES[i % len(SAME_PERPLEXITIES)]}", timeout=600_000)
        thumb = page.get_by_role("slider").first  # a 16-D pair's sliders are its most active dimensions
        thumb.wait_for(timeout=600_000)
        page.wait_for_function(f"() => ({CAPTION})('VAE decodes') !== null", timeout=600_000)
        before = page.evaluate(CAPTION, "VAE decodes")
        thumb.focus()
        thumb.press("ArrowRight")
        page.wait_for_function(
            f"(b) => {{ const c = ({CAPTION})('VAE decodes'); return c && c !== b; }}", arg=before, timeout=600_000
        )
        times.append(time.perf_counter() - t0)
        page.close()
    return times


def one_mode(browser, mode: str, n: int, tabs: bool) -> dict:
    """One fresh server (its own runs and results folders) with long requests in `mode`: the slider beside a
    fresh long request on its own page, and (tabs) the slider alone, while four tabs wait, alone again."""
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
            out = {"same_page": slider_beside_long(browser, url, max(3, n // 6))}
            if tabs:
                alone = slider_latency(browser, url, DECODER, n)
                pages = open_long(browser, url)
                busy = slider_latency(browser, url, DECODER, n)
                still = waiting(pages)
                for page in pages:
                    page.close()
                after = slider_latency(browser, url, DECODER, n)
                out |= {"alone": alone + after, "busy": busy, "waiting_at_end": still}
    return out


def slider_while_long(quick: bool) -> dict:
    from playwright.sync_api import sync_playwright

    n = 8 if quick else 24
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        out = {
            "process": one_mode(browser, "process", n, tabs=True),
            "inline": one_mode(browser, "inline", n, tabs=False),
        }
        browser.close()
    return out


def rows(quick: bool, row, raw: dict) -> list[str]:
    r = slider_while_long(quick)
    raw["slider_while_long"] = r
    m = r["process"]
    alone, busy = statistics.median(m["alone"]), statistics.median(m["busy"])
    valid = m["waiting_at_end"] >= 1
    lines = [
        row(
            "Decoder slider p50 while 4 tabs wait for long requests, in worker processes",
            f"{busy:.3f} s",
            f"≤ {TARGET}x alone",
            f"alone: {alone:.3f} s (p95 {percentile(m['alone'], 95):.3f} s); with them: p95 "
            f"{percentile(m['busy'], 95):.3f} s: **{busy / alone:.2f}x**; {m['waiting_at_end']} of 4 tabs "
            "still waiting at the end" + ("" if valid else " (none: the figure does not count)"),
            valid and busy / alone <= TARGET,
        )
    ]
    opens = {mode: r[mode]["same_page"] for mode in ("process", "inline")}
    worker, thread = statistics.median(opens["process"]), statistics.median(opens["inline"])
    # separated when every open with the worker beat every open before: by ranks, p = 1 / C(n1 + n2, n1)
    p = 1 / math.comb(len(opens["process"]) + len(opens["inline"]), len(opens["process"]))
    lines.append(
        row(
            "Decoder page with a fresh t-SNE of mnist5k-16d: open to the slider's first answer, p50, request "
            "in a worker vs in the page's thread (before)",
            f"{worker:.2f} s",
            f"every open sooner than every one before (p = {p:.3f} by ranks)",
            f"in the page's thread: {thread:.2f} s (each of {len(opens['inline'])} opens: "
            + ", ".join(f"{x:.1f}" for x in opens["inline"])
            + " s); in a worker: "
            + ", ".join(f"{x:.1f}" for x in opens["process"])
            + f" s: **{thread / worker:.1f}x** sooner",
            max(opens["process"]) < min(opens["inline"]),
        )
    )
    return lines


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    out = slider_while_long("--quick" in sys.argv)
    for mode, m in out.items():
        print(f"{mode}: page open to the slider's first answer beside a fresh t-SNE: {m['same_page']}")
        if "busy" in m:
            alone, busy = statistics.median(m["alone"]), statistics.median(m["busy"])
            print(
                f"{mode}: alone p50 {alone:.3f} s (n={len(m['alone'])}), with long requests p50 {busy:.3f} s "
                f"p95 {percentile(m['busy'], 95):.3f} s: {busy / alone:.2f}x; waiting at end {m['waiting_at_end']}"
            )
