"""AppTest on every page: widgets found by key, state from the URL, real decoded images."""

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from tests.browser import ROOT

APP = str(ROOT / "app.py")
MAP, DECODER, COMPARE, LAB = (f"explorer/ui/pages/{n}.py" for n in ("latent_map", "decoder", "compare", "half_moon"))
SPARSE = "moons-sparse-2d"


def open_app(page: str | None = None, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(params)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def image_with_caption(at: AppTest, prefix: str):
    found = [im for im in at.image if any(c.startswith(prefix) for c in im.captions)]
    assert len(found) == 1, [im.captions for im in at.image]
    return found[0]


@pytest.mark.parametrize(
    "page, title", [(None, "Latent map"), (DECODER, "Decoder"), (COMPARE, "AE vs VAE"), (LAB, "Half-moon lab")]
)
@pytest.mark.parametrize("pair", ["moons-sparse-2d", "digits-8d", "moons-sparse-1d"])
def test_every_page_runs_on_bundled_pairs(page, title, pair):
    dataset = "moons" if "moons" in pair else "digits"
    at = open_app(page, dataset=dataset, pair=pair)
    assert at.title[0].value == title
    assert at.sidebar.selectbox(key="pair").value == pair
    assert at.sidebar.dataframe  # the pair's metrics


def test_picking_an_item_shows_it_and_both_reconstructions():
    at = open_app(None, dataset="moons", pair=SPARSE)
    at.number_input(key="pick").set_value(250).run()
    assert "Test item 250: phase 0.25" in at.subheader[0].value
    before = image_with_caption(at, "AE reconstruction").value
    at.number_input(key="pick").set_value(500).run()
    assert "phase 0.50" in at.subheader[0].value
    assert image_with_caption(at, "AE reconstruction").value != before
    image_with_caption(at, "VAE reconstruction")
    image_with_caption(at, "original")


def test_moving_a_slider_changes_the_decoded_image():
    at = open_app(DECODER, dataset="digits", pair="digits-2d")
    slider = at.slider(key="z0")
    assert slider.min == -3.0 and slider.max == 3.0  # VAE: the prior's +-3 sigma
    before = image_with_caption(at, "VAE decodes").value
    slider.set_value(2.5).run()
    assert not at.exception
    after = image_with_caption(at, "VAE decodes")
    assert after.value != before
    assert "2.50" in after.captions[0]
    assert len([im for im in at.image if im.captions and im.captions[0].startswith("0.")]) == 5  # 5 nearest images


def test_ae_sliders_span_the_codes_range():
    at = open_app(DECODER, dataset="moons", pair=SPARSE, dec_model="AE")
    slider = at.slider(key="z0")
    assert slider.max - slider.min > 6  # the AE's codes are not confined to +-3
    assert at.slider(key="z1")


def test_large_latents_show_the_eight_most_active_dimensions():
    at = open_app(DECODER, dataset="digits", pair="digits-8d")
    keys = [s.key for s in at.slider if s.key and s.key.startswith("z")]
    assert len(keys) == 8


@pytest.mark.parametrize("steps", [5, 11])
def test_choosing_endpoints_yields_n_images_per_model(steps):
    at = open_app(COMPARE, dataset="moons", pair=SPARSE, steps=str(steps))
    at.number_input(key="phase_a").set_value(0.1).run()
    at.number_input(key="phase_b").set_value(0.5).run()
    strips = [im for im in at.image if len(im.value) == steps]
    assert len(strips) == 2  # AE and VAE, aligned step by step
    assert "phase 0.10" in at.markdown[0].value or any("phase 0.10" in m.value for m in at.markdown)
    assert at.get("download_button")


def test_endpoints_by_class_and_by_index():
    at = open_app(COMPARE, dataset="digits", pair="digits-2d")
    at.selectbox(key="class_a").set_value(3).run()
    assert any("label 3" in m.value for m in at.markdown)
    at.radio(key="ends_mode").set_value("by index").run()
    at.number_input(key="idx_b").set_value(7).run()
    assert any("test item 7" in m.value for m in at.markdown)


def test_url_query_parameters_restore_the_view():
    at = open_app(DECODER, dataset="digits", pair="digits-2d", pick="42", z0="1.5", dec_model="AE")
    assert at.radio(key="dec_model").value == "ae"
    assert at.slider(key="z0").value == pytest.approx(1.5)
    at = open_app(None, dataset="digits", pair="digits-2d", pick="42")
    assert at.number_input(key="pick").value == 42
    assert "Test item 42" in at.subheader[0].value


def test_trained_pairs_under_runs_appear_in_the_sidebar(tiny_pair_dir, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    shutil.copytree(tiny_pair_dir, runs / "my-run")
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(runs))
    at = open_app(None, dataset="moons")
    options = at.sidebar.selectbox(key="pair").options
    assert "runs/my-run" in options
    pair_id = "runs/my-run"
    at.sidebar.selectbox(key="pair").set_value(pair_id).run()
    assert not at.exception and at.sidebar.selectbox(key="pair").value == pair_id


def test_projection_is_chosen_before_it_runs():
    at = open_app(None, dataset="digits", pair="digits-8d")
    assert "now: PCA" in " ".join(m.value for m in at.markdown)
    at.selectbox(key="projection_method").set_value("tsne").run()
    assert "now: PCA" in " ".join(m.value for m in at.markdown)  # nothing runs until submitted
    at.selectbox(key="projection_method").set_value("tsne")
    at.button(key="run_projection").click().run()
    assert not at.exception
    assert "now: t-SNE" in " ".join(m.value for m in at.markdown)


def test_half_moon_lab_page_measures_the_pair_on_screen():
    at = open_app(LAB, dataset="moons", pair=SPARSE)
    assert at.title[0].value == "Half-moon lab"
    verdicts = [m.value for m in at.markdown if m.value.startswith("- ")]
    assert len(verdicts) == 3 and "mean distance AE" in verdicts[0]
    strips = [im for im in at.image if len(im.value) == 11]
    assert len(strips) == 3  # AE, VAE and the true renders
    at.radio(key="lab_regime").set_value("full").run()
    assert not at.exception
    assert at.sidebar.selectbox(key="pair").value == "moons-full-2d"


def test_half_moon_lab_on_digits_says_it_is_a_proxy():
    at = open_app(LAB, dataset="digits", pair="digits-8d")
    assert any("proxy" in i.value for i in at.info)
    assert not any("half moon" in m.value for m in at.markdown if m.value.startswith("- "))


def test_half_moon_lab_shows_the_whole_line_of_a_1d_pair():
    at = open_app(LAB, dataset="moons", pair="moons-sparse-1d")
    assert not at.exception
    assert any(s.value == "The whole 1-D line" for s in at.subheader)
