"""Helpers shared by test modules (fixtures live in conftest.py). Test modules import from here,
never from each other."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")

# Pair ids of the tiny pairs conftest's `app` fixture puts under $LATENT_EXPLORER_RUNS.
TINY_MOONS, TINY_DIGITS = "runs/tiny-moons", "runs/tiny-digits"


def open_app(page: str | None = None, **params):
    """AppTest of app.py with these query parameters, switched to `page`; fails on any error shown."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(params)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def image_with_caption(at, prefix: str):
    found = [im for im in at.image if any(c.startswith(prefix) for c in im.captions)]
    assert len(found) == 1, [im.captions for im in at.image]
    return found[0]


def run_cli(*args: str, module: str = "training", process: bool = False) -> subprocess.CompletedProcess:
    """`python -m <module> args`: in this process by default (no second torch import, ~0.1 s instead
    of several), or as a real child process with process=True. Same result type either way."""
    if process:
        return subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=600,
        )
    import importlib

    main = importlib.import_module(f"{module}.__main__").main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse refusals exit 2 after printing usage
            code = exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess([module, *args], code, out.getvalue(), err.getvalue())


def wait(job, seconds=400):
    """A run (training.jobs) as its folder says once it has ended: use the returned Job."""
    from training import jobs

    return jobs.wait(job.run_id, job.out.parent, seconds)


def slow_run(epochs=200, **data):
    """A run that is still training when a test looks at it: 4,000 moons, about 0.2 s an epoch here."""
    return tiny_run(epochs=epochs, n_train=4000, **data)


def in_process_workers(monkeypatch):
    """Workers as threads of this process instead of `python -m training worker` processes: the same
    jobs.work, seconds sooner, and it sees the test's monkeypatches."""
    import os
    import threading

    from training import jobs

    class Thread:
        def __init__(self, folder):
            self.pid, self.returncode = os.getpid(), None
            self.thread = threading.Thread(target=jobs.work, args=(folder,), daemon=True)
            self.args = [str(folder)]
            self.thread.start()

        def poll(self):
            return None if self.thread.is_alive() else 0

    monkeypatch.setattr(jobs, "spawn", Thread)


def tiny_run(epochs=2, n_test=8, n_train=128, **data):
    """A RunConfig that trains and saves a small moons pair in under a second. Its 8 test images keep
    the save's exact log p(x) (quadrature, ~0.1 s an image on an untrained 2-D VAE) cheap."""
    from training.config import DataConfig, ModelConfig, RunConfig, TrainConfig

    return RunConfig(
        DataConfig("moons", regime="sparse", n_train=n_train, n_test=n_test, image_size=16, **data),
        ModelConfig(latent_dim=2, hidden=(16,)),
        TrainConfig(epochs=epochs, batch_size=32),
    )


def beta_runs(runs: Path, betas=(0.5, 4.0), seeds=(0, 1)) -> None:
    """Tiny 3-D VAEs under runs/beta-<beta>-s<seed>, one per beta and seed: a user's own curve on the plane."""
    import dataclasses

    from training.config import ModelConfig, TrainConfig
    from training.runs import train_and_save

    for beta in betas:
        for seed in seeds:
            config = dataclasses.replace(
                tiny_run(),
                model=ModelConfig(latent_dim=3, hidden=(16,), beta=beta),
                train=TrainConfig(epochs=1, batch_size=64, seed=seed),
            )
            train_and_save(config, runs / f"beta-{beta}-s{seed}", progress_bar=False, iwae_k=2)


def zip_with(entries) -> bytes:
    """A zip archive of (name or ZipInfo, data) entries."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for info, data in entries:
            z.writestr(info, data)
    return buf.getvalue()


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


# Archives broken as issue 25's class 2 found them: each raised what the upload code did not catch.
def _archive(member: str, data: bytes, method=zipfile.ZIP_STORED) -> bytearray:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        z.writestr(member, data)
    return bytearray(buf.getvalue())


def _headers(raw: bytearray) -> tuple[int, int]:
    """Offsets of the local file header and the central directory entry of the archive's one member."""
    return raw.find(b"PK\x03\x04"), raw.find(b"PK\x01\x02")


def _bad_crc(raw):
    local, central = _headers(raw)
    raw[local + 14] ^= 0xFF
    raw[central + 16] ^= 0xFF
    return raw


def _encrypted(raw):
    local, central = _headers(raw)
    raw[local + 6] |= 1
    raw[central + 8] |= 1
    return raw


def _unknown_method(raw):
    local, central = _headers(raw)
    raw[local + 8] = raw[central + 10] = 99
    return raw


def _corrupt_stream(raw):
    local, _ = _headers(raw)
    start = (
        local
        + 30
        + int.from_bytes(raw[local + 26 : local + 28], "little")
        + int.from_bytes(raw[local + 28 : local + 30], "little")
    )
    raw[start + 10 : start + 20] = b"\x00" * 10
    return raw


BROKEN_ARCHIVES = {  # what each raised before: BadZipFile, RuntimeError, NotImplementedError, OSError, zlib.error
    "bad-crc": lambda m, d: _bad_crc(_archive(m, d)),
    "encrypted": lambda m, d: _encrypted(_archive(m, d)),
    "unknown-method": lambda m, d: _unknown_method(_archive(m, d)),
    "corrupt-bzip2": lambda m, d: _corrupt_stream(_archive(m, d, zipfile.ZIP_BZIP2)),
    "corrupt-deflate": lambda m, d: _corrupt_stream(_archive(m, d, zipfile.ZIP_DEFLATED)),
    "corrupt-lzma": lambda m, d: _corrupt_stream(_archive(m, d, zipfile.ZIP_LZMA)),
}


def _member(suffix: str) -> tuple[str, bytes]:
    if suffix == ".zip":
        from PIL import Image

        buf = io.BytesIO()
        Image.new("L", (16, 16), 0).save(buf, format="PNG")
        return "a.png", buf.getvalue()
    buf = io.BytesIO()
    np.save(buf, np.random.default_rng(0).random((20, 8, 8)).astype(np.float32))
    return "x.npy", buf.getvalue()


def broken_archive(case: str, suffix: str) -> bytes:
    """A .zip (one PNG) or .npz (one array) broken as BROKEN_ARCHIVES[case] says."""
    return bytes(BROKEN_ARCHIVES[case](*_member(suffix)))


# Browser: the src and caption of the image captioned 'VAE decodes …'; both change when the image does.
DECODED = """() => {
    for (const cap of document.querySelectorAll('[data-testid="stImageCaption"]')) {
        if (!cap.textContent.startsWith('VAE decodes')) continue;
        let box = cap.parentElement;
        while (box && !box.querySelector('img')) box = box.parentElement;
        if (box) return box.querySelector('img').src + '|' + cap.textContent;
    }
    return null;
}"""


# Browser: the page is drawn, not just run: no script running, every chart has its svg, every image
# has loaded and every component frame is in place, no spinner shows (app.py's cold start, a cached call).
# Tests wait for this instead of sleeping.
DRAWN = """() => {
    const main = document.querySelector('[data-testid="stMain"]');
    if (!main || document.querySelector('[data-testid="stStatusWidget"]')) return false;
    if (main.querySelectorAll('[data-testid="stMainBlockContainer"] *').length <= 10) return false;
    if (main.querySelector('[data-testid="stSkeleton"], [data-testid="stSpinner"]')) return false;
    const charts = [...main.querySelectorAll('[data-testid="stPlotlyChart"]')];
    if (charts.some(c => !c.querySelector('.js-plotly-plot .main-svg'))) return false;
    return [...main.querySelectorAll('img')].every(i => i.complete && i.naturalWidth > 0);
}"""
BROWSER_TIMEOUT_MS = 300_000  # two cores shared by several test runs (a cold first page took >180 s): generous


def wait_drawn(page, timeout_ms: float = BROWSER_TIMEOUT_MS) -> None:
    """Wait until the script has finished and everything it sent is drawn (DRAWN), twice in a row
    250 ms apart: a rerun that starts just after the first look is caught by the second."""
    for _ in range(2):
        page.wait_for_function(DRAWN, timeout=timeout_ms, polling=250)
        page.wait_for_timeout(250)
    page.wait_for_function(DRAWN, timeout=timeout_ms, polling=250)


def wait_still(page, js: str, arg=None, quiet_ms: int = 2000, timeout_ms: float = BROWSER_TIMEOUT_MS):
    """The value of `js` (with the page's URL) once it has not changed for `quiet_ms`: key presses queue
    several reruns, and a value read after the first of them is not the one the last one leaves."""
    import time

    last, since, end = None, time.monotonic(), time.monotonic() + timeout_ms / 1000
    while time.monotonic() < end:
        now = (page.evaluate(js, arg), page.url)
        if now != last:
            last, since = now, time.monotonic()
        elif (time.monotonic() - since) * 1000 >= quiet_ms and now[0] is not None:
            return now[0]
        page.wait_for_timeout(200)
    raise AssertionError(f"still changing after {timeout_ms} ms: {last}")


def open_drawn(browser, url: str, width: int = 1400, height: int = 1100, errors: list | None = None):
    """A new page at url, drawn; its default timeout generous for a loaded machine. errors, if given,
    collects the page's uncaught JavaScript errors from the start."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    if errors is not None:
        page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, timeout=BROWSER_TIMEOUT_MS)
    page.wait_for_selector("[data-testid=stSidebar] a", timeout=BROWSER_TIMEOUT_MS)
    wait_drawn(page)
    return page


def click_until(page, locator, at: tuple[float, float], target, tries: int = 5) -> None:
    """Click locator at fractions `at` of its box until `target` shows: plotly attaches its click
    handlers some time after it draws, so on a loaded machine a first click may come before them."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(tries):
        box = locator.bounding_box()
        page.mouse.click(box["x"] + box["width"] * at[0], box["y"] + box["height"] * at[1])
        try:
            target.wait_for(timeout=BROWSER_TIMEOUT_MS // tries)
            return
        except PlaywrightTimeout:
            wait_drawn(page)
    target.wait_for()


# Browser: one chart's texts (titles, legend entries, axis titles) and the toolbar's box; its y titles and its
# plot areas and tick labels.
CHART = """(plot) => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const named = sel => [...plot.querySelectorAll(sel)].map(e => ({tag: e.textContent.slice(0, 30), box: box(e)}))
      .filter(b => b.box[2] - b.box[0] > 0);
  const bar = plot.querySelector('.modebar');
  return {
    toolbar: bar ? [{tag: 'toolbar', box: box(bar)}] : [],
    texts: named('.annotation-text, .gtitle, .legendtext, .cbtitle text, .xtitle, .ytitle'),
    ytitles: named('.ytitle'),
    areas: named('.nsewdrag, .ytick text'),
  };
}"""


def overlaps(boxes: list[dict], slack: float = 1.0, others: list[dict] | None = None) -> list[tuple[str, str]]:
    """Pairs of boxes that overlap by more than `slack` px each way (nested elements excluded);
    with others, only pairs of one box from boxes and one from others."""
    out = []
    for i, a in enumerate(boxes):
        for b in others if others is not None else boxes[i + 1 :]:
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = a["box"], b["box"]
            inside = (ax0 >= bx0 and ax1 <= bx1 and ay0 >= by0 and ay1 <= by1) or (
                bx0 >= ax0 and bx1 <= ax1 and by0 >= ay0 and by1 <= ay1
            )
            if not inside and min(ax1, bx1) - max(ax0, bx0) > slack and min(ay1, by1) - max(ay0, by0) > slack:
                out.append((a["tag"], b["tag"]))
    return out


# A static chart's (bridge.static_chart) words, as boxes on the screen.
STATIC_TEXTS = """(svg) => [...svg.querySelectorAll('text')].map(e => { const r = e.getBoundingClientRect();
    return {tag: (e.textContent || '').slice(0, 30), box: [r.left, r.top, r.right, r.bottom]}; })
  .filter(b => b.box[2] - b.box[0] > 1 && b.box[3] - b.box[1] > 1)"""


def chart_faults(page) -> list:
    """Per Plotly chart: texts under the toolbar, and y titles over another panel's plot area or tick labels;
    per static chart: a word over another."""
    faults = []
    plots = page.locator("[data-testid=stMain] .js-plotly-plot")
    for i in range(plots.count()):
        found = plots.nth(i).evaluate(CHART)  # the toolbar is laid out (and shown) without a hover
        faults += [(i, *pair) for pair in overlaps(found["toolbar"], others=found["texts"])]
        faults += [(i, *pair) for pair in overlaps(found["ytitles"], others=found["areas"])]
    static = page.locator("[data-testid=stMain] .le-chart > svg")
    for i in range(static.count()):
        faults += [(f"static {i}", *pair) for pair in overlaps(static.nth(i).evaluate(STATIC_TEXTS))]
    return faults


# Every page the app routes to, by the `page` key tests open it with (open_app / switch).
PAGES = [
    "latent_map",
    "tour",
    "decoder",
    "drag",
    "compare",
    "manifold",
    "inference",
    "half_moon",
    "conditional",
    "train",
]


def server_caption(model: str) -> str:
    """JS: the Drag page's caption of the image the server decoded for model (AE or VAE), '' before one."""
    return (
        "() => [...document.querySelectorAll('[data-testid=\"stImageCaption\"]')]"
        f".map(c => c.textContent).find(t => t.startsWith('server: {model} decodes')) || ''"
    )


def drag_in_three_stops(page, caption: str) -> set[str]:
    """Drag across the latent pad with the button down, stopping three times until the server's caption
    (caption: JS, server_caption) changes; returns every caption seen, the one before the drag too."""
    box = page.locator("canvas.le-pad").bounding_box()
    seen = {page.evaluate(caption)}
    page.mouse.move(box["x"] + 20, box["y"] + 200)
    page.mouse.down()
    for i in range(1, 4):  # three stops while the button stays down: the server decodes each
        for j in range(10):
            page.mouse.move(box["x"] + 20 + 25 * i + 2 * j, box["y"] + 200 - 10 * i - j)
        page.wait_for_function(f"(seen) => !seen.includes(({caption})())", arg=sorted(seen))
        seen.add(page.evaluate(caption))
    page.mouse.up()
    return seen


def load_on_train_page(page, files: list[str], chosen, name: str) -> None:
    """Upload files in the Train page's "load your own" area, wait until chosen (a locator: the files as the
    page lists them) shows, press Load, and wait for "Loaded as runs/<name>"."""
    page.locator(".st-key-ckpt_files input[type=file]").set_input_files(files)
    chosen.wait_for()
    page.locator(".st-key-ckpt_load button").click()
    page.get_by_text(f"Loaded as runs/{name}").wait_for(timeout=BROWSER_TIMEOUT_MS)
