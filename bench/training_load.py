"""The Decoder slider while two runs train (issue 23, item 2): p50 against the same with none.

One server, one runs folder, Chromium: the slider measured with no run, then with two runs
started from the Train page (moons, 20,000 images, 200 epochs: many minutes of training), first with that
page still open (it polls the runs: its figures are drawn by this machine's Chromium and the server),
then closed (the runs train on in their workers: the figure the target is about), then the runs
cancelled from a reopened Train page. Runs that train inside the server (threads) take its cores and
its GIL; runs in worker processes at lower priority should leave the slider near its idle figure.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
from pathlib import Path

from bench.browser import percentile, slider_latency
from bench.harness import CHROMIUM_ARGS, ROOT, chromium_path, streamlit_server, wait_for_app

TARGET = 1.5  # slider p50 while two runs train, within this factor of the p50 with none
DECODER = "decoder?dataset=digits&pair=digits-2d"
PATIENCE_MS = 180_000  # a page opened while two runs train on a shared 2-core machine


def start_runs(browser, url: str, names: list[str]):
    """Start runs from the Train page as a user does; returns the page, left open."""
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.set_default_timeout(180_000)
    page.goto(f"{url}/train?dataset=digits&pair=digits-2d", timeout=180_000)
    wait_for_app(page, 180_000)
    for name in names:
        page.get_by_label("Training images (0: all)").fill("20000")  # still training after every measurement
        page.get_by_label("Epochs (max 200)").fill("200")
        page.get_by_role("textbox", name="Run name").fill(name)
        page.get_by_role("button", name="Train the pair").click()
        page.wait_for_url(re.compile(rf"[?&]run={name}"))
        wait_for_app(page, 180_000)
    for name in names:  # both past loading their data: training now
        page.get_by_role("link", name=name).first.wait_for()
    page.wait_for_function(
        "(names) => names.every(n => (document.body.innerText.match(/running: V?AE epoch/g) || []).length >= 2)",
        arg=names,
        timeout=180_000,
    )
    return page


def still_training(runs: Path, names: list[str]) -> int:
    """How many of the runs are still training, as their folders say (the record every process reads)."""
    import json

    return sum(json.loads((runs / name / "job.json").read_text())["status"] == "running" for name in names)


def cancel_runs(page, names: list[str]) -> None:
    for name in names:
        button = page.locator(f".st-key-cancel_{name} button")
        if button.count():
            button.first.click()
            page.wait_for_timeout(500)


def slider_while_training(quick: bool) -> dict:
    from playwright.sync_api import sync_playwright

    n = 8 if quick else 30
    names = ["bench-a", "bench-b"]
    with tempfile.TemporaryDirectory(prefix="bench-runs-") as tmp, sync_playwright() as p:
        env = {"LATENT_EXPLORER_RUNS": str(Path(tmp) / "runs"), "LATENT_EXPLORER_UPLOADS": str(Path(tmp) / "up")}
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        with streamlit_server(env=env, max_seconds=1200) as url:
            idle = slider_latency(browser, url, DECODER, n, PATIENCE_MS)
            train = start_runs(browser, url, names)
            watched = slider_latency(browser, url, DECODER, n, PATIENCE_MS)  # the Train page open too, polling its runs
            url_of_train = train.url
            train.close()  # the runs train on in their workers with no page open
            busy = slider_latency(browser, url, DECODER, n, PATIENCE_MS)
            train = browser.new_page(viewport={"width": 1400, "height": 1400})
            train.goto(url_of_train, timeout=180_000)
            wait_for_app(train, 180_000)
            training_after = still_training(Path(tmp) / "runs", names)  # both, for the figure to count
            cancel_runs(train, names)
            idle_after = slider_latency(browser, url, DECODER, n, PATIENCE_MS)
            train.close()
        browser.close()
    return {"idle": idle + idle_after, "training": busy, "watched": watched, "training_at_end": training_after}


def rows(quick: bool, row, raw: dict) -> list[str]:
    r = slider_while_training(quick)
    raw["slider_while_training"] = r
    idle, busy = statistics.median(r["idle"]), statistics.median(r["training"])
    ratio = busy / idle
    valid = r["training_at_end"] >= 2
    watched = statistics.median(r["watched"])
    return [
        row(
            "Decoder slider p50 while two runs train (in their worker processes)",
            f"{busy:.3f} s",
            f"≤ {TARGET}x none",
            f"no run training: {idle:.3f} s (p95 {percentile(r['idle'], 95):.3f} s); two runs: p95 "
            f"{percentile(r['training'], 95):.3f} s: **{ratio:.2f}x**; with the Train page also open in the same "
            f"browser on this machine, polling them every 2 s: {watched:.3f} s ({watched / idle:.2f}x)"
            + ("" if valid else f"; only {r['training_at_end']} runs were still training at the end"),
            valid and ratio <= TARGET,
        )
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    out = slider_while_training("--quick" in sys.argv)
    idle, busy = statistics.median(out["idle"]), statistics.median(out["training"])
    print(f"root {ROOT}")
    print(f"idle p50 {idle:.3f} s  p95 {percentile(out['idle'], 95):.3f}  (n={len(out['idle'])})")
    print(f"two runs p50 {busy:.3f} s  p95 {percentile(out['training'], 95):.3f}  (n={len(out['training'])})")
    print(f"two runs, Train page open p50 {statistics.median(out['watched']):.3f} s")
    print(f"ratio {busy / idle:.2f}x; still training at the end: {out['training_at_end']}")
