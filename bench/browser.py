"""Measurements in a real browser (Debian's Chromium via playwright) against real servers."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.harness import CHROMIUM_ARGS, ROOT, chromium_path, rss_mb, streamlit_server, wait_for_app

CAPTION = """(prefix) => {
    for (const cap of document.querySelectorAll('[data-testid="stImageCaption"]'))
        if (cap.textContent.startsWith(prefix)) return cap.textContent;
    return null;
}"""


def percentile(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


def slider_latency(browser, url: str, path: str, n: int, timeout_ms: float = 60_000) -> list[float]:
    """Seconds from an arrow key on slider z0 to the new 'VAE decodes' caption, n times (timeout_ms: for
    the page to open, and for each move)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(f"{url}/{path}", timeout=timeout_ms)
    wait_for_app(page, timeout_ms)
    page.wait_for_function(f"() => ({CAPTION})('VAE decodes') !== null", timeout=timeout_ms)
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text="z0").get_by_role("slider")
    times = []
    for i in range(n + 2):
        before = page.evaluate(CAPTION, "VAE decodes")
        thumb.focus()
        t0 = time.perf_counter()
        thumb.press("ArrowRight" if i % 4 < 2 else "ArrowLeft")
        page.wait_for_function(
            f"(b) => {{ const c = ({CAPTION})('VAE decodes'); return c && c !== b; }}", arg=before, timeout=timeout_ms
        )
        if i >= 2:  # the first two warm the caches
            times.append(time.perf_counter() - t0)
        page.wait_for_timeout(150)
    page.close()
    return times


# Page coordinates of chosen test items in the first map's codes (moons: one "codes" trace per panel).
ITEM_XY = """(items) => {
    const gd = document.querySelector('.js-plotly-plot');
    const full = gd._fullLayout, box = gd.querySelector('.main-svg').getBoundingClientRect();
    const trace = gd._fullData.find(t => t.name === 'codes' && t.xaxis === 'x');
    return items.map(i => [box.left + full.xaxis._offset + full.xaxis.l2p(trace.x[i]),
                           box.top + full.yaxis._offset + full.yaxis.l2p(trace.y[i])]);
}"""
# The src of the image captioned prefix...: a new picture, even when its caption reads the same.
IMAGE_SRC = """(prefix) => {
    for (const cap of document.querySelectorAll('[data-testid="stImageCaption"]'))
        if (cap.textContent.startsWith(prefix)) {
            const img = cap.closest('[data-testid="stImageContainer"]')?.querySelector('img')
                || cap.parentElement.querySelector('img');
            return img ? img.getAttribute('src') : null;
        }
    return null;
}"""
PLOT_READY = "() => { const gd = document.querySelector('.js-plotly-plot'); return !!(gd && gd._fullData); }"
SPREAD_ITEMS = """() => {
    const trace = document.querySelector('.js-plotly-plot')._fullData.find(t => t.name === 'codes' && t.xaxis === 'x');
    const order = [...trace.x.keys()].sort((a, b) => trace.x[a] - trace.x[b] || trace.y[a] - trace.y[b]);
    return [0.02, 0.98, 0.25, 0.75, 0.1, 0.9, 0.4, 0.6].map(q => order[Math.floor(q * (order.length - 1))]);
}"""


def map_click_latency(browser, url: str, n: int) -> dict:
    """Seconds from a click on a dot of the latent map to the new AE reconstruction image, n times,
    and the websocket bytes the server sent for each click (frames until the image changed, then 0.3 s)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    received: list[tuple[float, int]] = []
    page.on(
        "websocket",
        lambda ws: ws.on("framereceived", lambda payload: received.append((time.perf_counter(), len(payload)))),
    )
    page.goto(f"{url}/?dataset=moons&pair=moons-sparse-2d")
    wait_for_app(page, 120_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
    page.wait_for_function(f"() => ({CAPTION})('AE reconstruction') !== null", timeout=120_000)
    page.wait_for_function(PLOT_READY, timeout=120_000)
    page.wait_for_timeout(1000)  # plotly attaches its event handlers after drawing
    items = page.evaluate(SPREAD_ITEMS)
    times, sent = [], []
    for i in range(n + 2):
        before = page.evaluate(IMAGE_SRC, "AE reconstruction")
        x, y = page.evaluate(ITEM_XY, [items[i % len(items)]])[0]
        t0 = time.perf_counter()
        page.mouse.click(x, y)
        changed = f"(b) => {{ const c = ({IMAGE_SRC})('AE reconstruction'); return c && c !== b; }}"
        page.wait_for_function(changed, arg=before, timeout=30_000)
        t1 = time.perf_counter()
        page.wait_for_timeout(300)
        if i >= 2:  # the first two warm the caches
            times.append(t1 - t0)
            sent.append(sum(size for t, size in received if t >= t0))
        page.wait_for_timeout(200)
    page.close()
    return {"map_click": times, "map_click_bytes": sent}


def slider_paths(quick: bool) -> dict:
    from playwright.sync_api import sync_playwright

    n = 6 if quick else 30
    out = {}
    decoder = "decoder?dataset=digits&pair=digits-2d"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        # Measured in turns, so load on the machine hits each alike.
        with (
            streamlit_server(ROOT / "bench" / "floor_app.py") as floor,
            streamlit_server() as fragment,
            streamlit_server(ROOT / "bench" / "full_rerun_app.py") as full,
        ):
            out["slider_floor"] = slider_latency(browser, floor, "", n)
            out["slider_fragment"] = slider_latency(browser, fragment, decoder, n)
            out["slider_full_rerun"] = slider_latency(browser, full, decoder.replace("decoder", "", 1), n)
            out.update(map_click_latency(browser, fragment, n))
        browser.close()
    return out


def drag_frames(quick: bool) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, streamlit_server() as url:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.goto(f"{url}/drag?dataset=moons&pair=moons-sparse-2d&drag_model=AE")
        wait_for_app(page)
        pad = page.locator("canvas.le-pad")
        pad.wait_for(timeout=60_000)
        box = pad.bounding_box()
        start = page.evaluate("() => window.__latentExplorer.stats.frames")
        page.mouse.move(box["x"] + 10, box["y"] + 180)
        page.mouse.down()
        moves = 40 if quick else 150
        t0 = time.perf_counter()
        for i in range(moves):  # back and forth across the pad; each call sends 4 pointer events
            x = 10 + (i * 7) % 340
            page.mouse.move(box["x"] + x, box["y"] + 180 + 60 * np.sin(i / 10), steps=4)
        seconds = time.perf_counter() - t0
        page.mouse.up()
        stats = page.evaluate(
            "(start) => { const s = window.__latentExplorer.stats; const k = s.frameTimes.length - (s.frames - start);"
            " return {times: s.frameTimes.slice(k), decode: s.decodeMs.slice(k), distinct: s.distinct}; }",
            start,
        )
        browser.close()
    intervals = np.diff(stats["times"])
    return {
        "frame_intervals_ms": intervals.tolist(),
        "decode_ms": stats["decode"],
        "moves": 4 * moves,
        "frames": len(stats["times"]),
        "pointer_events_per_s": 4 * moves / seconds,
    }


def time_to_plot(browser, script: Path, path: str = "") -> float:
    """Seconds from `streamlit run script` (a fresh process) to a drawn Plotly chart in Chromium."""
    t0 = time.perf_counter()
    with streamlit_server(script, timeout=180) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(f"{url}/{path}")
        page.locator(".js-plotly-plot").first.wait_for(timeout=180_000)
        seconds = time.perf_counter() - t0
        page.close()
    return seconds


def startup(quick: bool) -> dict:
    """`streamlit run app.py` to a drawn latent map (bundled defaults), and the floor beside it: a
    fresh process of bench/floor_startup.py (imports torch and plotly, draws one chart). In turns,
    so load on the machine hits both alike; the median of the turns."""
    from playwright.sync_api import sync_playwright

    app, floor = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        for _ in range(1 if quick else 3):
            floor.append(time_to_plot(browser, ROOT / "bench" / "floor_startup.py"))
            app.append(time_to_plot(browser, ROOT / "app.py"))
        browser.close()
    return {"startup_s": float(np.median(app)), "startup_floor_s": float(np.median(floor)), "startup_runs": app}


def memory_60k(quick: bool) -> dict:
    """Server RSS with a 60,000-image dataset loaded (map and decoder pages visited)."""
    from playwright.sync_api import sync_playwright

    from training.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from training.runs import train_and_save

    n = 6_000 if quick else 60_000
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        x = (rng.random((n, 28, 28)) < 0.2).astype(np.uint8) * 255
        np.savez(Path(tmp) / "big.npz", x=x, y=rng.integers(0, 10, n))
        config = RunConfig(
            DataConfig("npz", path=str(Path(tmp) / "big.npz")), ModelConfig(latent_dim=2), TrainConfig(epochs=1)
        )
        train_and_save(config, Path(tmp) / "runs" / "big", progress_bar=False, iwae_k=2)
        info: dict = {}
        with (
            sync_playwright() as p,
            # the run's sidecar names data in tmp: an allowed root for this server only
            streamlit_server(
                env={"LATENT_EXPLORER_RUNS": str(Path(tmp) / "runs"), "LATENT_EXPLORER_IMPORT_ROOTS": tmp}, info=info
            ) as url,
        ):
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            peak = 0.0
            for path, ready in (
                ("?dataset=npz&pair=runs/big", ".js-plotly-plot"),
                ("decoder?dataset=npz&pair=runs/big", "canvas.le-map"),
            ):
                page.goto(f"{url}/{path}")
                wait_for_app(page)
                page.locator(ready).first.wait_for(state="attached", timeout=120_000)
                peak = max(peak, rss_mb(info["pid"]))
            browser.close()
    return {"rss_60k_mb": peak, "images": n}


def umap_fresh(quick: bool) -> dict:
    """UMAP of 10,000 codes in fresh processes: once with an empty numba cache, then warm."""
    n = 2000 if quick else 10_000
    cache = tempfile.mkdtemp(prefix="numba-cache-")
    out = {}
    for label in ("cold", "warm"):
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "umap_fresh.py"), str(n)],
            env={**__import__("os").environ, "NUMBA_CACHE_DIR": cache},
            capture_output=True,
            text=True,
            timeout=900,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        import_s, fit_s = (float(v) for v in done.stdout.split())
        out[f"umap_{label}_import_s"], out[f"umap_{label}_fit_s"] = import_s, fit_s
    return out
