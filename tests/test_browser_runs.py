"""Runs belong to the server, in Chromium: reload mid-run, a second tab, Cancel, the 800 px window."""

import json
import re
import time

import pytest

from bench.harness import streamlit_server
from tests.helpers import BROWSER_TIMEOUT_MS, chart_faults, wait_drawn

pytestmark = pytest.mark.browser
STATUS = re.compile(r"browser-run: running: (V?AE) epoch (\d+) of 200")


def shown_epoch(page) -> int:
    """Epochs done as the run's status line shows them (the AE's 200 first, then the VAE's)."""
    line = page.get_by_text(STATUS)
    line.wait_for()
    kind, epoch = STATUS.search(line.inner_text()).groups()
    return int(epoch) + (200 if kind == "VAE" else 0)


def boxes_overlap(a, b) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and (b["y"] < a["y"] + a["height"])
    )


def test_a_run_survives_a_reload_shows_in_a_second_tab_and_cancels(browser, tmp_path, shots_dir):
    env = {"LATENT_EXPLORER_RUNS": str(tmp_path / "runs"), "LATENT_EXPLORER_UPLOADS": str(tmp_path / "uploads")}
    with streamlit_server(env=env, max_seconds=600) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.set_default_timeout(BROWSER_TIMEOUT_MS)  # a shared 2-core machine under load
        page.goto(f"{url}/train?dataset=digits&pair=digits-2d", timeout=BROWSER_TIMEOUT_MS)
        wait_drawn(page)
        page.get_by_label("Epochs (max 200)").fill("200")
        page.get_by_role("textbox", name="Run name").fill("browser-run")
        page.get_by_role("button", name="Train the pair").click()
        page.wait_for_url(re.compile(r"[?&]run=browser-run"))
        before = shown_epoch(page)

        page.reload()  # the tab's session is gone; the run and the URL are not
        wait_drawn(page)
        first = shown_epoch(page)
        page.wait_for_function(  # live: the fragment polls the server's run
            """(n) => { const m = document.body.innerText.match(/browser-run: running: (V?AE) epoch (\\d+)/);
                        return m && Number(m[2]) + (m[1] === "VAE" ? 200 : 0) > n; }""",
            arg=first,
        )
        assert first >= before

        other = browser.new_page(viewport={"width": 800, "height": 1200})  # a second tab, the same link
        other.set_default_timeout(BROWSER_TIMEOUT_MS)
        other.goto(page.url, timeout=BROWSER_TIMEOUT_MS)
        wait_drawn(other)
        assert shown_epoch(other) >= first
        other.locator(".js-plotly-plot .main-svg").first.wait_for()  # the live curves
        assert not chart_faults(other)  # at 800 px the toolbar covers no subplot title ("total (−ELBO …)")
        listed = other.get_by_role("link", name="browser-run")
        assert listed.count() >= 1
        # 800 px: the run list's link, status and Cancel stay apart and inside the window
        status = other.get_by_text(re.compile(r"^running: V?AE epoch")).first
        cancel = other.locator(".st-key-cancel_browser-run button")
        boxes = [listed.first.bounding_box(), status.bounding_box(), cancel.bounding_box()]
        assert all(b is not None and b["x"] + b["width"] <= 800 for b in boxes), boxes
        assert not any(boxes_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :]), boxes
        other.screenshot(path=str(shots_dir / "train-runs-800.png"), full_page=True)

        t0 = time.perf_counter()
        other.locator(".st-key-train_cancel button").click()
        print(f"cancel click took {time.perf_counter() - t0:.2f} s")
        for tab in (other, page):  # both tabs learn the run ended, without a reload
            tab.get_by_text(re.compile(r"browser-run: cancelled .*: nothing was saved")).wait_for()
        print(f"cancel -> both tabs show 'cancelled': {time.perf_counter() - t0:.2f} s")
        folder = tmp_path / "runs" / "browser-run"  # the run's record stays (training/jobs.py), its set does not
        assert json.loads((folder / "job.json").read_text())["status"] == "cancelled"
        assert not any(p.suffix == ".safetensors" or p.name in ("ae.json", "vae.json") for p in folder.iterdir())
        page.close()
        other.close()
