"""The tour's step times on the bundled moons-sparse-2d pair: the script's render after the first (AppTest,
target < 1 s), and a step change in Chromium against a Decoder slider in the same server (target <= 1.5x)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 1.0
TARGET_RATIO = 1.5  # a step change in Chromium over a Decoder slider move, same server and browser
LANGS = ("en", "zh")
# tests/helpers.DRAWN, and no element left from the step before (Streamlit marks them stale while a run goes
# on) and no spinner: without this a step change counted as drawn while its body was still computing.
STEP_DRAWN = """() => ((%s)() && !document.querySelector(
    '[data-testid="stMain"] [data-stale="true"], [data-testid="stMain"] [data-testid="stSpinner"]'))"""


def step_times(lang: str = "en") -> dict[int, float]:
    """Seconds per step, each rerun after the whole tour was walked once (the caches warm)."""
    from streamlit.testing.v1 import AppTest

    from explorer.tour import STEPS

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.query_params.update({"lang": lang, "dataset": "moons", "pair": "moons-sparse-2d"})
    at.run()
    at.switch_page("explorer/ui/pages/tour.py").run()
    for step in range(1, STEPS + 1):  # the first visit fills the caches
        at.session_state["step"] = step
        at.run()
    times = {}
    for step in range(1, STEPS + 1):
        at.session_state["step"] = step
        start = time.perf_counter()
        at.run()
        times[step] = time.perf_counter() - start
        assert not at.exception, (step, at.exception)
    return times


def browser_step_times(browser, url: str, lang: str = "en", rounds: int = 2, served: dict | None = None):
    """Seconds from a click on Next to the next step drawn (its title shown, no script running, every chart
    and image in place), per step; the first walk through the tour fills the caches and is not counted.
    served, if given, receives per step the seconds from the click to the server's last message of the
    step (the rest of the step's time is the browser drawing what it was sent)."""
    from explorer.i18n import CATALOGUES
    from explorer.tour import STEPS
    from tests.helpers import DRAWN

    drawn = STEP_DRAWN % DRAWN
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.set_default_timeout(300_000)
    frames: list[float] = []  # arrival times of the server's websocket messages
    page.on("websocket", lambda ws: ws.on("framereceived", lambda _: frames.append(time.perf_counter())))
    times: dict[int, list[float]] = {step: [] for step in range(2, STEPS + 1)}
    for walk in range(rounds + 1):
        page.goto(f"{url}/tour?lang={lang}&dataset=moons&pair=moons-sparse-2d&step=1")
        page.wait_for_function(drawn, polling=50)
        for step in range(2, STEPS + 1):
            start = time.perf_counter()
            page.locator(".st-key-tour_next button").click()
            page.locator("h3").filter(has_text=CATALOGUES[lang][f"s{step}_title"]).wait_for()
            page.wait_for_timeout(50)  # a rerun that starts just after the title is caught by DRAWN
            page.wait_for_function(drawn, polling=50)
            if walk:
                times[step].append(time.perf_counter() - start)
                if served is not None:
                    last = max((f for f in frames if f >= start), default=start)
                    served.setdefault(step, []).append(last - start)
    page.close()
    return times


def first_view(browser, url: str, lang: str) -> float:
    """Seconds from opening /tour on a server no page has asked anything of yet to its first step drawn."""
    from tests.helpers import DRAWN

    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    start = time.perf_counter()
    page.goto(f"{url}/tour?lang={lang}&dataset=moons&pair=moons-sparse-2d&step=1", timeout=300_000)
    page.wait_for_function(STEP_DRAWN % DRAWN, polling=50, timeout=300_000)
    seconds = time.perf_counter() - start
    page.close()
    return seconds


def browser_ratio(quick: bool) -> dict:
    """Tour step changes in both languages and Decoder slider moves in one Chromium against one server, side
    by side; first, the fresh server's first view of the tour in Chinese."""
    from playwright.sync_api import sync_playwright

    from bench.browser import slider_latency
    from bench.harness import CHROMIUM_ARGS, chromium_path, streamlit_server

    with streamlit_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        first = first_view(browser, url, LANGS[-1])
        steps, served = {}, {}
        for lang in LANGS:
            served[lang] = {}
            steps[lang] = browser_step_times(browser, url, lang, rounds=1 if quick else 2, served=served[lang])
        slider = slider_latency(browser, url, "decoder?dataset=moons&pair=moons-sparse-2d", 4 if quick else 8)
        browser.close()
    every = {lang: [s for times in steps[lang].values() for s in times] for lang in LANGS}
    last = [s for lang in LANGS for times in served[lang].values() for s in times]
    return {
        "first_view_s": round(first, 2),
        "served_median": float(np.median(last)),
        "steps": {lang: {k: [round(s, 3) for s in v] for k, v in steps[lang].items()} for lang in LANGS},
        "slider": [round(s, 3) for s in slider],
        "step_median": float(np.median([s for lang in LANGS for s in every[lang]])),
        "lang_median": {lang: float(np.median(every[lang])) for lang in LANGS},
        "step_worst": max(s for lang in LANGS for s in every[lang]),
        "slider_median": float(np.median(slider)),
    }


def section(quick: bool, raw: dict) -> list[tuple]:
    """Table rows (path, measured, target, side by side[, met]); the raw numbers go into raw."""
    times = step_times()
    raw["tour_step_s"] = times
    worst = max(times, key=times.get)
    measured = f"worst step {worst}: {times[worst]:.2f} s; median {sorted(times.values())[len(times) // 2]:.2f} s"
    detail = ", ".join(f"{s}: {v:.2f}" for s, v in times.items())
    rows: list[tuple] = [("tour step render after the first (AppTest)", measured, f"< {TARGET_S:g} s", detail)]
    b = browser_ratio(quick)
    raw["tour_browser"] = b
    ratio = b["step_median"] / b["slider_median"]
    per_step = "; ".join(
        f"{lang}: " + ", ".join(f"{k}: {np.median(v):.2f}" for k, v in b["steps"][lang].items()) for lang in LANGS
    )
    rows.append(
        (
            "tour step change in Chromium (Next, click to drawn), en and zh, vs a Decoder slider, same server",
            f"{ratio:.2f}x (step median {b['step_median']:.2f} s: en {b['lang_median']['en']:.2f}, zh "
            f"{b['lang_median']['zh']:.2f}; worst {b['step_worst']:.2f} s; its server's last message at "
            f"{b['served_median']:.2f} s; slider median {b['slider_median']:.2f} s)",
            f"<= {TARGET_RATIO:g}x",
            f"per step, median seconds: {per_step}; a fresh server's first /tour?lang=zh drawn in "
            f"{b['first_view_s']:.1f} s",
            ratio <= TARGET_RATIO,
        )
    )
    return rows


if __name__ == "__main__":
    for step, seconds in step_times().items():
        print(f"step {step}: {seconds:.2f} s")
