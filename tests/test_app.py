"""AppTest on every page: widgets found by key, state from the URL, real decoded images.

Most tests open the tiny pairs of conftest's `app` fixture (made once per session); the slow ones
keep the bundled checkpoints covered."""

import dataclasses

import pytest

from tests.helpers import TINY_DIGITS, TINY_MOONS, image_with_caption, open_app, tiny_run
from training.moons import nearest_phase_index

MAP, DECODER, COMPARE, LAB = (f"explorer/ui/pages/{n}.py" for n in ("latent_map", "decoder", "compare", "half_moon"))
SPARSE = "moons-sparse-2d"
PAGES = [(None, "Latent map"), (DECODER, "Decoder"), (COMPARE, "AE vs VAE"), (LAB, "Half-moon lab")]


@pytest.mark.parametrize("page, title", PAGES)
@pytest.mark.parametrize("pair", [TINY_MOONS, TINY_DIGITS])
def test_every_page_runs_on_the_tiny_pairs(app, page, title, pair):
    at = app(page, dataset="moons" if "moons" in pair else "digits", pair=pair)
    assert at.title[0].value == title
    assert at.sidebar.selectbox(key="pair").value == pair
    assert any(m.value.startswith("| | AE | VAE |") for m in at.sidebar.markdown)  # the pair's metrics


@pytest.mark.slow
@pytest.mark.parametrize("page, title", PAGES)
@pytest.mark.parametrize("pair", ["moons-sparse-2d", "digits-8d", "moons-sparse-1d"])
def test_every_page_runs_on_bundled_pairs(page, title, pair):
    at = open_app(page, dataset="moons" if "moons" in pair else "digits", pair=pair)
    assert at.title[0].value == title
    assert at.sidebar.selectbox(key="pair").value == pair
    assert any(m.value.startswith("| | AE | VAE |") for m in at.sidebar.markdown)


def test_picking_an_item_shows_it_and_both_reconstructions(app, tiny_moons):
    phases = tiny_moons.test.factors["phase"]
    at = app(None, dataset="moons", pair=TINY_MOONS)
    at.number_input(key="pick").set_value(8).run()
    assert f"Test item 8: phase {phases[8]:.3f}" in at.subheader[0].value
    before = image_with_caption(at, "AE reconstruction").value
    at.number_input(key="pick").set_value(20).run()
    assert f"phase {phases[20]:.3f}" in at.subheader[0].value
    assert image_with_caption(at, "AE reconstruction").value != before
    image_with_caption(at, "VAE reconstruction")
    image_with_caption(at, "original")


def test_moving_a_slider_changes_the_decoded_image(app):
    at = app(DECODER, dataset="moons", pair=TINY_MOONS)
    slider = at.slider(key="z0")
    assert slider.min == -3.0 and slider.max == 3.0  # VAE: the prior's +-3 sigma
    before = image_with_caption(at, "VAE decodes").value
    slider.set_value(2.5).run()
    assert not at.exception
    after = image_with_caption(at, "VAE decodes")
    assert after.value != before
    assert "2.50" in after.captions[0]
    nearest = [h.proto.body for h in at.get("html") if "le-nearest" in h.proto.body]  # one element, 5 images
    assert len(nearest) == 1 and nearest[0].count('<img src="data:image/png;base64,') == 5


def test_ae_sliders_span_the_codes_range(app):
    at = app(DECODER, dataset="moons", pair=TINY_MOONS, dec_model="AE")
    for key in ("z0", "z1"):
        slider = at.slider(key=key)
        assert (slider.min, slider.max) != (-3.0, 3.0) and slider.max > slider.min  # from its codes, not the prior


@pytest.mark.slow
def test_bundled_ae_sliders_span_the_codes_range():
    at = open_app(DECODER, dataset="moons", pair=SPARSE, dec_model="AE")
    slider = at.slider(key="z0")
    assert slider.max - slider.min > 6  # the AE's codes are not confined to +-3


def test_large_latents_show_the_eight_most_active_dimensions(app):
    at = app(DECODER, dataset="digits", pair=TINY_DIGITS)  # 10 dimensions
    keys = [s.key for s in at.slider if s.key and s.key.startswith("z")]
    assert len(keys) == 8


@pytest.mark.parametrize("steps", [5, 11])
def test_choosing_endpoints_yields_n_images_per_model(app, tiny_moons, steps):
    at = app(COMPARE, dataset="moons", pair=TINY_MOONS, steps=str(steps))
    at.number_input(key="phase_a").set_value(0.1).run()
    at.number_input(key="phase_b").set_value(0.5).run()
    strips = [im for im in at.image if len(im.value) == steps]
    assert len(strips) == 2  # AE and VAE, aligned step by step
    phases = tiny_moons.test.factors["phase"]
    a = nearest_phase_index(phases, 0.1)
    assert any(f"test item {a} (phase {phases[a]:.3f})" in m.value for m in at.markdown)
    assert at.get("download_button")


def test_endpoints_by_class_and_by_index(app):
    at = app(COMPARE, dataset="digits", pair=TINY_DIGITS)
    at.selectbox(key="class_a").set_value(3).run()
    assert any("label 3" in m.value for m in at.markdown)
    at.radio(key="ends_mode").set_value("by index").run()
    at.number_input(key="idx_b").set_value(7).run()
    assert any("test item 7" in m.value for m in at.markdown)


def test_url_query_parameters_restore_the_view(app):
    slider = app(DECODER, dataset="moons", pair=TINY_MOONS, dec_model="AE").slider(key="z0")
    z0 = round(slider.min + 0.8 * (slider.max - slider.min), 2)  # inside the AE's range, away from the start
    at = app(DECODER, dataset="moons", pair=TINY_MOONS, pick="21", z0=str(z0), dec_model="AE")
    assert at.radio(key="dec_model").value == "ae"
    assert at.slider(key="z0").value == pytest.approx(z0)
    at = app(None, dataset="moons", pair=TINY_MOONS, pick="21")
    assert at.number_input(key="pick").value == 21
    assert "Test item 21" in at.subheader[0].value


def test_trained_pairs_under_runs_appear_in_the_sidebar(app):
    at = app(None, dataset="moons", pair=TINY_MOONS)
    options = at.sidebar.selectbox(key="pair").options
    assert TINY_MOONS in options and "moons-sparse-2d" in options  # runs/ beside the bundled pairs
    assert at.sidebar.selectbox(key="pair").value == TINY_MOONS


def test_projection_is_chosen_before_it_runs(app):
    at = app(None, dataset="digits", pair=TINY_DIGITS)
    assert "now: PCA" in " ".join(m.value for m in at.markdown)
    at.selectbox(key="projection_method").set_value("tsne").run()
    assert "now: PCA" in " ".join(m.value for m in at.markdown)  # nothing runs until submitted
    at.selectbox(key="projection_method").set_value("tsne")
    at.button(key="run_projection").click().run()
    assert not at.exception
    assert "now: t-SNE" in " ".join(m.value for m in at.markdown)


def test_half_moon_lab_page_measures_the_pair_on_screen(app):
    at = app(LAB, dataset="moons", pair=TINY_MOONS)
    assert at.title[0].value == "Half-moon lab"
    verdicts = [m.value for m in at.markdown if m.value.startswith("- ")]
    on_screen = [v for v in verdicts if "seeds" not in v]  # the rest are lab/results.json's, over seeds
    assert len(on_screen) == 3 and "mean distance AE" in on_screen[0]
    families = [v for v in verdicts if "one trained model" in v]  # each bundled posterior family's curve
    over_seeds = [v for v in verdicts[3:] if v not in families]
    assert all("sign-flip p = " in v or "t-test p = " in v for v in over_seeds)
    # the density over phase, from lab/results.json: its figure and one finding per regime
    assert sum("half-moon phases" in v for v in over_seeds) == 3
    assert len(families) == 4 and sum("against the diagonal Gaussian's" in v for v in families) == 3
    strips = [im for im in at.image if len(im.value) == 11]
    assert len(strips) == 3  # AE, VAE and the true renders


@pytest.mark.slow
def test_half_moon_lab_switches_between_the_bundled_regimes():
    at = open_app(LAB, dataset="moons", pair=SPARSE)
    verdicts = [m.value for m in at.markdown if m.value.startswith("- ") and "seeds" not in m.value]
    assert len(verdicts) == 3  # this pair's own; the others are lab/results.json's, over seeds
    at.radio(key="lab_regime").set_value("full").run()
    assert not at.exception
    assert at.sidebar.selectbox(key="pair").value == "moons-full-2d"


def test_half_moon_lab_on_digits_says_it_is_a_proxy(app):
    at = app(LAB, dataset="digits", pair=TINY_DIGITS)
    assert any("proxy" in i.value for i in at.info)
    assert not any("half moon" in m.value for m in at.markdown if m.value.startswith("- "))


@pytest.fixture
def tiny_1d_runs(tmp_path, monkeypatch):
    """runs/tiny-1d: a 1-D moons pair (no exact log p(x) at save: that is for 2-D)."""
    from training.runs import train_and_save

    config = tiny_run(epochs=1)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, latent_dim=1))
    train_and_save(config, tmp_path / "tiny-1d", progress_bar=False, iwae_k=2)
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path))


def test_half_moon_lab_shows_the_whole_line_of_a_1d_pair(tiny_1d_runs):
    at = open_app(LAB, dataset="moons", pair="runs/tiny-1d")
    assert not at.exception
    assert any(s.value == "The whole 1-D line" for s in at.subheader)


@pytest.mark.parametrize("page", ["explorer/ui/pages/manifold.py", "explorer/ui/pages/inference.py"])
def test_a_page_that_ends_early_still_draws_the_sidebar_links(page):
    # digits-8d is not 2-D: both pages say so and draw nothing more, and the ten page links still come
    at = open_app(page, dataset="digits", pair="digits-8d")
    assert at.info, "the page should say why it shows no more"
    assert len(at.page_link) >= 10, [p.label for p in at.page_link]


def test_no_page_ends_with_st_stop():
    # after st.stop() nothing drawn later (the sidebar's page links, the metrics table) reaches the
    # browser; a page that ends early raises context.PageEnd, which app.py catches
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    calls = [
        f"{path.relative_to(root)}:{node.lineno}"
        for path in [root / "app.py", *sorted((root / "explorer").rglob("*.py"))]
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "stop"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "st"
    ]
    assert not calls, calls
