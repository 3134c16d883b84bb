"""Sets that are not a full pair, in Chromium as a user meets them: embeddings uploaded on the Train page
(map, click, neighbours, reload, ?lang=zh), and a lone encoder, a lone decoder and a lone AE on every page
that reads a set, at 800 px: each page works or says in one line what it needs."""

import numpy as np
import pytest

from bench.harness import streamlit_server
from tests.helpers import (
    BROWSER_TIMEOUT_MS,
    drag_in_three_stops,
    load_on_train_page,
    open_drawn,
    run_cli,
    server_caption,
    wait_drawn,
    wait_still,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NEIGHBOUR_CAPTIONS = """() => [...document.querySelectorAll('[data-testid="stImageCaption"]')]
    .map(c => c.textContent).filter(t => t.startsWith('#'))"""
# [item, x, y] of the middle point of one class's trace on the first map, in page pixels
CLASS_POINT = """(name) => {
    const gd = document.querySelector('.js-plotly-plot');
    const full = gd._fullLayout, box = gd.querySelector('.main-svg').getBoundingClientRect();
    const trace = gd._fullData.find(t => t.name === name && t.xaxis === 'x');
    const i = Math.floor(trace.x.length / 2);
    return [trace.customdata[i][1], box.left + full.xaxis._offset + full.xaxis.l2p(trace.x[i]),
            box.top + full.yaxis._offset + full.yaxis.l2p(trace.y[i])];
}"""
PICKED = "() => [...document.querySelectorAll('h3')].map(h => h.innerText).find(t => /^(Test item|测试样本)/.test(t))"


def test_upload_embeddings_then_map_click_neighbours_reload_and_chinese(browser, tmp_path):
    from bench.browser import PLOT_READY
    from explorer.i18n import CATALOGUES

    rng = np.random.default_rng(0)
    names = ["cat", "dog", "bird"]
    codes = np.concatenate([rng.normal(size=(20, 5)) * 0.5 + 4 * i for i in range(3)])  # 3 apart clusters
    np.savetxt(tmp_path / "vectors.tsv", codes, delimiter="\t", fmt="%.5f")
    (tmp_path / "metadata.tsv").write_text("label\n" + "\n".join(names[i // 20] for i in range(60)) + "\n")
    np.save(tmp_path / "images.npy", (rng.random((60, 8, 8)) * 255).astype(np.uint8))
    env = {"LATENT_EXPLORER_RUNS": str(tmp_path / "runs"), "LATENT_EXPLORER_UPLOADS": str(tmp_path / "uploads")}
    pair = "pair=runs/uploaded-embeddings&dataset=embeddings"
    with streamlit_server(env=env, max_seconds=900) as url:
        errors: list = []
        page = open_drawn(browser, f"{url}/train", 1400, 1400, errors)
        files = [str(tmp_path / n) for n in ("vectors.tsv", "metadata.tsv", "images.npy")]
        load_on_train_page(page, files, page.get_by_text("3 file(s) of embeddings"), "uploaded-embeddings")

        page.goto(f"{url}/?{pair}", timeout=BROWSER_TIMEOUT_MS)
        wait_drawn(page)
        assert "60 codes of 5 numbers" in page.locator("[data-testid=stSidebar]").inner_text()
        page.wait_for_function(PLOT_READY, timeout=BROWSER_TIMEOUT_MS)
        page.wait_for_timeout(1000)  # plotly attaches its event handlers after drawing
        before = page.evaluate(PICKED)
        assert "label cat" in before  # the first pick: item 0
        _, x, y = page.evaluate(CLASS_POINT, "dog")
        page.mouse.click(x, y)
        page.wait_for_function(f"(b) => ({PICKED})() !== b", arg=before)
        picked = wait_still(page, PICKED)
        item = int(picked.split(":")[0].split(" ")[-1])
        assert 20 <= item < 40 and picked.endswith("label dog"), picked  # a dog's point (or one under it)
        neighbours = page.evaluate(NEIGHBOUR_CAPTIONS)
        assert len(neighbours) == 8 and all("label dog" in c for c in neighbours), neighbours
        assert f"#{item} " not in " ".join(neighbours) and f"pick={item}" in page.url

        page.reload(timeout=BROWSER_TIMEOUT_MS)
        wait_drawn(page)
        assert page.evaluate(PICKED) == picked and page.evaluate(NEIGHBOUR_CAPTIONS) == neighbours

        page.goto(page.url + "&lang=zh", timeout=BROWSER_TIMEOUT_MS)
        wait_drawn(page)
        body = page.inner_text("body")
        assert "最近邻" in body and CATALOGUES["zh"]["emb_no_images"] not in body
        page.goto(f"{url}/decoder?{pair}&lang=zh", timeout=BROWSER_TIMEOUT_MS)
        wait_drawn(page)
        page.get_by_text(
            CATALOGUES["zh"]["emb_needs"].split("{what}")[0].format(pair="runs/uploaded-embeddings")
        ).wait_for()
        assert not page.locator("[data-testid=stException]").count()
        assert not errors, errors
        page.close()


# page url -> what it needs (View.needs); each lone set brings some of: encoder, decoder, density
PAGES = {
    "": "encoder",
    "decoder": "decoder",
    "drag": "decoder",
    "manifold": "decoder",
    "inference": "density",
    "compare": "pair",
    "lab": "pair",
    "tour": "pair",
}
LONE = {
    "lone-encoder": (["--encoder", "vae.encoder.onnx", "--latent-dim", "2"], {"encoder"}),
    "lone-decoder": (["--decoder", "vae.decoder.onnx"], {"decoder"}),
    "lone-ae": (["--encoder", "ae.encoder.onnx", "--decoder", "ae=ae.decoder.onnx"], {"encoder", "decoder"}),
}


def test_lone_onnx_sets_at_800px_each_page_works_or_says_what_it_needs(browser, tmp_path, monkeypatch):
    from explorer.i18n import CATALOGUES
    from training.onnxio import export_set
    from training.store import set_path

    exported = export_set(set_path("moons-sparse-2d"), tmp_path / "exported")  # the user's graphs
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    for name, (flags, _) in LONE.items():
        flags = [f.replace("ae=", f"ae={exported}/") if f.startswith("ae=") else f for f in flags]
        flags = [str(exported / f) if f.endswith(".onnx") and "=" not in f else f for f in flags]
        result = run_cli("import-onnx", *flags, "--data", "moons", "--regime", "sparse", "--name", name)
        assert result.returncode == 0, result.stderr
    en = CATALOGUES["en"]
    env = {"LATENT_EXPLORER_RUNS": str(tmp_path / "runs"), "LATENT_EXPLORER_UPLOADS": str(tmp_path / "uploads")}
    with streamlit_server(env=env, max_seconds=1200) as url:
        errors: list = []
        page = open_drawn(browser, f"{url}/?dataset=moons&pair=runs/lone-ae", 800, 1100, errors)
        for name, (_, has) in LONE.items():
            for path, need in PAGES.items():
                page.goto(f"{url}/{path}?dataset=moons&pair=runs/{name}", timeout=BROWSER_TIMEOUT_MS)
                wait_drawn(page)
                said = page.locator("[data-testid=stAlertContentInfo]").filter(
                    has_text=en[f"needs_{need}"].split("{pair}")[0]
                )
                where = (name, path or "map")
                # what the page draws, waited for: a long request's arrival (a map's codes, a manifold) reruns it
                if need in has:
                    page.locator(".js-plotly-plot, [data-testid=stImage], [data-testid=stSlider]").first.wait_for()
                    assert not said.count(), where
                else:
                    said.first.wait_for()
                    assert said.count() == 1 and f"runs/{name}" in said.inner_text(), where
                    box = said.bounding_box()
                    assert box and box["x"] + box["width"] <= 800, where  # the line fits the narrow window
                assert not page.locator("[data-testid=stException]").count(), where
                links = page.locator("[data-testid=stSidebar] a")
                links.first.wait_for()  # drawn after PageEnd: under load a long request's arrival can rerun the page
                assert links.count() >= 10, where
        assert not errors, errors
        page.close()


def test_a_lone_onnx_decoder_in_chinese_at_800px_sliders_decode_and_the_map_says_what_it_needs(browser, tmp_path):
    """A researcher with only a decoder: upload it on the Train page, then, in Chinese in an 800 px window,
    the Decoder page slides over the prior and decodes, a reload keeps the code, and the latent map says in
    one line that it needs an encoder instead of failing."""
    import shutil

    from bench.browser import CAPTION
    from explorer.i18n import CATALOGUES
    from training.onnxio import export_set
    from training.store import set_path

    exported = export_set(set_path("moons-sparse-2d"), tmp_path / "exported")
    lone = tmp_path / "vae_dec.onnx"  # the user's one file
    shutil.copyfile(exported / "vae.decoder.onnx", lone)
    env = {"LATENT_EXPLORER_RUNS": str(tmp_path / "runs"), "LATENT_EXPLORER_UPLOADS": str(tmp_path / "uploads")}
    zh = CATALOGUES["zh"]
    decodes = zh["dec_decodes"].format(model="VAE", code="")[:-2]  # "VAE 解码 (" before the code
    with streamlit_server(env=env, max_seconds=900) as url:
        errors: list = []
        page = open_drawn(browser, f"{url}/train?dataset=moons", 1400, 1400, errors)
        chosen = page.locator(".st-key-ckpt_files").get_by_text("vae_dec.onnx")
        load_on_train_page(page, [str(lone)], chosen, "uploaded-onnx")
        page.close()

        page = open_drawn(browser, f"{url}/decoder?dataset=moons&pair=runs/uploaded-onnx&lang=zh", 800, 1100, errors)
        page.wait_for_function(f"(p) => ({CAPTION})(p) !== null", arg=decodes)
        shown = page.evaluate(CAPTION, decodes)
        assert zh["dec_no_encoder"].format(model="VAE")[:20] in page.inner_text("body")
        thumb = page.locator('[data-testid="stSlider"]').filter(has_text="z1").get_by_role("slider")
        thumb.focus()
        for _ in range(10):
            thumb.press("ArrowLeft")
        page.wait_for_url("**z1=**")
        caption = wait_still(page, CAPTION, decodes)
        assert caption != shown
        page.reload(timeout=BROWSER_TIMEOUT_MS)
        wait_drawn(page)
        page.wait_for_function(f"(a) => ({CAPTION})(a[0]) === a[1]", arg=[decodes, caption])

        page.goto(f"{url}/?dataset=moons&pair=runs/uploaded-onnx&lang=zh", timeout=BROWSER_TIMEOUT_MS)
        wait_drawn(page)
        page.get_by_text(zh["needs_encoder"].split("{pair}")[0]).wait_for()
        assert not page.locator("[data-testid=stException]").count()
        assert not errors, errors
        page.close()


def test_a_lone_2d_decoder_gets_the_drag_pad_decoded_on_the_server(browser, tmp_path, monkeypatch):
    """No encoder, so no codes under the pad: it spans the prior's box, and dragging streams codes that the
    server decodes through onnxruntime while the button is down; the release goes into the URL."""
    from training.onnxio import export_set
    from training.store import set_path

    exported = export_set(set_path("moons-sparse-2d"), tmp_path / "exported")
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    flags = ["--decoder", str(exported / "vae.decoder.onnx"), "--data", "moons", "--regime", "sparse"]
    assert run_cli("import-onnx", *flags, "--name", "lone").returncode == 0
    env = {"LATENT_EXPLORER_RUNS": str(tmp_path / "runs"), "LATENT_EXPLORER_UPLOADS": str(tmp_path / "uploads")}
    with streamlit_server(env=env, max_seconds=600) as url:
        errors: list = []
        page = open_drawn(browser, f"{url}/drag?dataset=moons&pair=runs/lone", 800, 1100, errors)
        pad = page.locator("canvas.le-pad")
        pad.wait_for()
        seen = drag_in_three_stops(page, server_caption("VAE"))
        assert len(seen - {""}) >= 3
        page.wait_for_url("**dz=**")
        assert not page.locator("[data-testid=stException]").count()
        assert not errors, errors
        page.close()
