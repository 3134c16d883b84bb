"""In a real browser: hostile names stay text, hostile files chosen in the uploader are refused, and eight
users at once keep their own state."""

import io
import statistics
import time

import numpy as np
import pytest

from bench.harness import streamlit_server, wait_for_app
from tests.helpers import DECODED, open_drawn, zip_with

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAYLOAD = "<img src=x onerror=window.__pwned=1>"


@pytest.fixture(scope="module")
def hostile_setup(tmp_path_factory):
    """An upload whose class names, file name and run name are HTML, and a pair trained on it."""
    from training.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from training.runs import train_and_save
    from training.uploads import import_upload

    root = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    entries = []
    for c, name in enumerate((PAYLOAD, "<script>window.__pwned=2</script>")):
        for i in range(12):
            import io

            from PIL import Image

            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(buf, format="PNG")
            entries.append((f"{name}/{i}.png", buf.getvalue()))
    imported = import_upload(f"{PAYLOAD}.zip", zip_with(entries), root / "uploads")
    assert PAYLOAD in imported.class_names
    config = RunConfig(
        DataConfig("npz", path=str(imported.data_file)), ModelConfig(latent_dim=2, hidden=(16,)), TrainConfig(epochs=2)
    )
    train_and_save(config, root / "runs" / PAYLOAD, progress_bar=False, iwae_k=2)
    return root


def test_user_supplied_names_are_never_rendered_as_html(browser, hostile_setup):
    env = {
        "LATENT_EXPLORER_RUNS": str(hostile_setup / "runs"),
        "LATENT_EXPLORER_UPLOADS": str(hostile_setup / "uploads"),
    }
    from urllib.parse import quote

    pair = quote(f"runs/{PAYLOAD}", safe="")
    pages = ["", "decoder", "drag", "compare", "lab", "train"]
    with streamlit_server(env=env) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        seen_as_text = 0
        for path in pages:
            page.goto(f"{url}/{path}?dataset=npz&pair={pair}")
            wait_for_app(page)
            page.wait_for_timeout(1500)
            assert page.evaluate("() => window.__pwned") is None, path
            assert page.locator("img[src='x']").count() == 0, path
            seen_as_text += page.get_by_text(PAYLOAD, exact=False).count()
        assert seen_as_text > 0  # the names did reach the pages, as text
        assert not errors
        page.close()


STARTS = [-2.0 + 0.9 * i for i in range(4)]  # z0 of the four decoder sessions


def open_eight_sessions(browser, url: str, errors: list):
    """4 decoder pages, 2 compare pages (own step counts), 2 train pages, all loaded."""
    contexts = [browser.new_context(viewport={"width": 1300, "height": 1100}) for _ in range(8)]
    pages = [c.new_page() for c in contexts]
    for p in pages:
        p.on("pageerror", lambda e: errors.append(str(e)))
    for i, start in enumerate(STARTS):
        pages[i].goto(f"{url}/decoder?dataset=digits&pair=digits-2d&z0={start}&dec_model=VAE")
    for i in (4, 5):
        pages[i].goto(f"{url}/compare?dataset=moons&pair=moons-sparse-2d&steps={5 + 2 * i}")
    for i in (6, 7):
        pages[i].goto(f"{url}/train")
    for p in pages:
        wait_for_app(p)
    return contexts, pages


def press_z0(page) -> float:
    """One arrow key on slider z0; seconds until the decoded image changed."""
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text="z0").get_by_role("slider")
    before = page.evaluate(DECODED)
    thumb.focus()
    t0 = time.perf_counter()
    thumb.press("ArrowRight")
    page.wait_for_function(f"(b) => {{ const n = ({DECODED})(); return n && n !== b; }}", arg=before, timeout=60_000)
    return time.perf_counter() - t0


def test_eight_sessions_at_once_keep_their_own_state(browser, tmp_path):
    """8 browser sessions on one server: 4 move sliders, 2 interpolate, 2 train; bounded, then stop."""
    env = {"LATENT_EXPLORER_RUNS": str(tmp_path / "runs")}
    latencies, errors = [], []
    presses = 6
    with streamlit_server(env=env, max_seconds=600) as url:
        contexts, pages = open_eight_sessions(browser, url, errors)
        for i in (6, 7):  # two small runs train while the others work
            pages[i].get_by_label("Training images (0: all)").fill("400")
            pages[i].get_by_label("Epochs (max 200)").fill("5")
            pages[i].get_by_role("button", name="Train the pair").click()
        latencies = [press_z0(pages[i]) for _ in range(presses) for i in range(4)]
        # No cross-talk: each decoder session shows its own code, start + 6 steps of (6 / 200).
        for i, start in enumerate(STARTS):
            caption = pages[i].evaluate(DECODED).split("|")[1]
            shown = float(caption.split("(")[1].split(",")[0])
            assert shown == pytest.approx(start + presses * 0.03, abs=0.011), (i, caption)
        for i in (4, 5):
            assert pages[i].get_by_text(f"{5 + 2 * i} steps, linear").count() == 2  # its own steps, AE and VAE
        # an app run's save measures on metrics.QUICK (exact log p(x) on 50 images: ~45 s CPU on
        # moons-sparse, 3.8x less than the full budget's ~170 s); 300 s keeps 3x over a loaded save
        deadline = time.time() + 300
        while time.time() < deadline and len(list((tmp_path / "runs").glob("*/vae.json"))) < 2:
            time.sleep(1)
        assert len(list((tmp_path / "runs").glob("*/vae.json"))) == 2  # both runs finished, separately
        for c in contexts:
            c.close()
    assert not errors
    p95 = float(np.percentile(latencies, 95))
    print(f"slider p50 {statistics.median(latencies):.3f} s, p95 {p95:.3f} s over {len(latencies)} moves, 8 sessions")
    assert p95 < 10  # responsive under load (the figure is reported, not a timing target)


def hostile_uploads() -> dict[str, bytes]:
    """Files a user can choose in the Train page's uploader that must each be refused (issue 25)."""
    from PIL import Image

    from tests.helpers import broken_archive, npz_bytes

    bomb = io.BytesIO()
    Image.new("L", (5000, 5000), 0).save(bomb, format="PNG")  # 25 Mpx in 25 kB: refused from its header
    return {
        "bad-crc.zip": broken_archive("bad-crc", ".zip"),
        "encrypted.npz": broken_archive("encrypted", ".npz"),
        "corrupt-bzip2.zip": broken_archive("corrupt-bzip2", ".zip"),
        "bomb.zip": zip_with([("a/bomb.png", bomb.getvalue())]),
        "two.npz": npz_bytes(x=np.zeros((2, 8, 8), np.uint8)),
        "timedelta.npz": npz_bytes(x=np.zeros((20, 8, 8), "timedelta64[s]")),
        "pickled.npz": npz_bytes(x=np.array([{"a": 1}] * 20, dtype=object)),
        "not-a-zip.zip": b"PK\x03\x04 and then nothing",
    }


def test_hostile_files_through_the_real_upload_widget_are_each_refused_and_leave_nothing(browser, tmp_path):
    """Chromium chooses each file in the Train page's uploader as a user would: one refusal naming the file,
    no exception, nothing written under the uploads folder; then a good file is still imported."""
    from tests.helpers import npz_bytes

    uploads = tmp_path / "uploads"
    env = {"LATENT_EXPLORER_RUNS": str(tmp_path / "runs"), "LATENT_EXPLORER_UPLOADS": str(uploads)}
    with streamlit_server(env=env, max_seconds=600) as url:
        page = open_drawn(browser, f"{url}/train?dataset=digits&pair=digits-2d")
        chooser = page.locator(".st-key-upload_data input[type=file]")
        for name, data in hostile_uploads().items():
            chooser.set_input_files(files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}])
            alert = page.locator('[data-testid="stAlertContentError"]', has_text=name)
            alert.first.wait_for(timeout=120_000)
            assert not page.locator('[data-testid="stException"]').count(), name
            assert not uploads.exists() or not [p for p in uploads.iterdir() if not p.name.startswith(".")], name
        good = npz_bytes(x=np.random.default_rng(0).random((20, 8, 8)).astype(np.float32))
        chooser.set_input_files(files=[{"name": "good.npz", "mimeType": "application/octet-stream", "buffer": good}])
        page.locator('[data-testid="stAlertContentSuccess"]', has_text="20").first.wait_for(timeout=120_000)
        assert [p.name for p in uploads.iterdir() if not p.name.startswith(".")] == ["good"]
