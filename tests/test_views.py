"""Issue 14, one value one truth: the URL carries the view, Back restores it (AppTest and Chromium)."""

import re
import time

import numpy as np
import pytest
from playwright.sync_api import expect

from explorer.ui import urlstate
from tests.helpers import BROWSER_TIMEOUT_MS, TINY_DIGITS, TINY_MOONS, click_until, open_drawn, wait_drawn

expect.set_options(timeout=BROWSER_TIMEOUT_MS)  # auto-retrying assertions wait as long as the pages may take

DECODER = "explorer/ui/pages/decoder.py"


def test_decoder_caption_names_the_projection_in_the_url(app):
    at = app(DECODER, dataset="digits", pair=TINY_DIGITS, proj="tsne", proj_perplexity="5")
    assert any("t-SNE (perplexity 5)" in c.value for c in at.caption), [c.value for c in at.caption]
    at = app(DECODER, dataset="digits", pair=TINY_DIGITS)
    assert any("(PCA)" in c.value for c in at.caption)


def test_a_widget_value_never_comes_with_a_default_warning(app):
    at = app(None, pick="7")
    at.number_input(key="pick").set_value(9).run()
    assert not at.warning and not at.exception
    assert at.query_params["pick"] == ["9"] or at.query_params["pick"] == "9"


def url_of(at) -> dict[str, str]:
    return {k: v[-1] if isinstance(v, list) else v for k, v in at.query_params.items()}


def test_a_page_url_carries_what_it_reads_and_the_shared_view(app):
    """Issue 27: the Decoder's z1 does not follow to AE vs VAE; t-SNE's perplexity leaves with t-SNE."""
    view = {"dataset": "digits", "pair": TINY_DIGITS, "pick": "7"}
    at = app(DECODER, **view, z1="0.57", proj="tsne", proj_perplexity="5", grid_n="5", lab_steps="7")
    assert url_of(at) == {**view, "z1": "0.57", "proj": "tsne", "proj_perplexity": "5", "grid_n": "5"}
    at.switch_page("explorer/ui/pages/half_moon.py").run()
    assert url_of(at) == {**view, "lab_steps": "7"}  # the lab reads none of the Decoder's keys
    at.switch_page("explorer/ui/pages/latent_map.py").run()
    assert url_of(at) == {**view, "proj": "tsne", "proj_perplexity": "5"}
    at.selectbox(key="projection_method").set_value("pca")
    at.button(key="run_projection").click().run()
    assert url_of(at) == view  # PCA is the default and has no perplexity
    at.switch_page(DECODER).run()  # the Decoder's values stayed in the session
    assert url_of(at) == {**view, "z1": "0.57", "grid_n": "5"}


def test_page_reads_give_each_page_its_keys_and_the_shared_ones():
    state = {urlstate.DEFAULTS: {"z1": "0", "steps": "11", "pick": "0"}, "z1": 0.5, "steps": 5, "pick": 3}
    reads = urlstate.PageReads(state)
    reads.start("decoder")
    reads.note("z1")
    assert reads.page_query() == {"z1": "0.5", "pick": "3"}
    reads.start("compare")
    reads.note("steps")
    assert reads.page_query() == {"steps": "5", "pick": "3"}
    assert reads.page_query("decoder") == {"z1": "0.5", "pick": "3"}  # its link elsewhere
    assert reads.page_query("manifold") == {"pick": "3"}  # not run yet: the shared view
    urlstate.restore(state, {"pick": "4"}, reads.keys_of("compare"))  # Back to compare without steps
    assert state["pick"] == 4 and "steps" not in state and state["z1"] == 0.5


# --- Chromium: every wait is for a condition (a URL, a heading, a drawn page), never a fixed sleep --------


def open_page(browser, url):
    return open_drawn(browser, url, 1400, 1100)


def go_to(page, title, path):
    page.locator("[data-testid=stSidebar] a").filter(has_text=title).first.click()
    page.wait_for_url(re.compile(rf"/{path}(\?|$)"))
    expect(page.locator("h1").filter(has_text=title)).to_have_count(1)
    wait_drawn(page)


def back_to(page, heading: str):
    page.go_back()
    expect(page.locator("h1").filter(has_text=heading)).to_have_count(1)
    wait_drawn(page)


def endpoints(page):
    return page.locator("[data-testid=stMarkdown]").filter(has_text="→").first


@pytest.mark.browser
def test_back_restores_the_endpoints_and_the_decoder_carries_the_pick(browser, app_url):
    page = open_page(browser, f"{app_url}/compare?ends_mode=by+index&idx_a=200&idx_b=700")
    expect(endpoints(page)).to_contain_text("test item 200")
    expect(endpoints(page)).to_contain_text("test item 700")
    go_to(page, "Decoder", "decoder")
    assert "idx_a" not in page.url  # the Decoder's URL carries what it reads (issue 27), Back restores the rest
    back_to(page, "AE vs VAE")
    expect(endpoints(page)).to_contain_text("test item 200")
    expect(endpoints(page)).to_contain_text("test item 700")
    page.goto(f"{app_url}/?pick=302")
    expect(page.locator("h3").filter(has_text="Test item 302")).to_have_count(1)
    wait_drawn(page)
    go_to(page, "Decoder", "decoder")
    assert "pick=302" in page.url
    back_to(page, "Latent map")
    expect(page.locator("h3").filter(has_text="Test item 302")).to_have_count(1)
    page.close()


@pytest.mark.browser
def test_an_empty_space_pick_is_in_the_url_and_a_typed_item_wins_after_it(browser, app_url):
    page = open_page(browser, f"{app_url}/")
    plot = page.locator(".js-plotly-plot").first
    click_until(page, plot, (0.25, 0.55), page.locator("h3").filter(has_text="Empty space in the AE's map"))
    page.wait_for_url(re.compile(r"at=.*at_kind=ae|at_kind=ae.*at="))
    shared = page.url
    field = page.locator('[data-testid="stNumberInput"]').filter(has_text="Test item").locator("input")
    field.fill("51")
    field.press("Enter")
    page.locator("h3").filter(has_text="Test item 51").wait_for()
    page.wait_for_url(re.compile(r"pick=51"))
    assert "at=" not in page.url
    page.goto(shared)  # the shared link shows the empty-space decode again
    page.locator("h3").filter(has_text="Empty space in the AE's map").wait_for()
    page.close()


@pytest.mark.browser
def test_an_unknown_path_lands_on_the_first_page_with_a_note(browser, app_url):
    page = open_page(browser, f"{app_url}/map")
    expect(page.locator("h1").filter(has_text="Latent map")).to_have_count(1)
    assert page.get_by_text("There is no page at that address").count() == 1
    assert page.locator('[role="dialog"]').count() == 0
    page.close()


@pytest.mark.browser
def test_the_scrubber_stays_where_released_and_t_is_in_the_url(browser, app_url):
    page = open_page(browser, f"{app_url}/compare")
    scrub = page.get_by_label("interpolation t")
    scrub.wait_for()
    scrub.evaluate("(e) => { e.value = 0.293; e.dispatchEvent(new Event('change', {bubbles: true})); }")
    page.get_by_text("at t = 0.293 (released)").first.wait_for()
    page.wait_for_url(re.compile(r"[?&]t=0\.293"))
    wait_drawn(page)
    assert abs(float(scrub.input_value()) - 0.293) < 1e-9  # the thumb did not jump back to 0.5
    page.close()


@pytest.mark.browser
def test_the_pad_moves_the_sliders_and_the_url(browser, app_url):
    page = open_page(browser, f"{app_url}/drag")
    pad = page.locator("canvas.le-pad").first
    pad.wait_for()
    box = pad.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.2)
    page.wait_for_function("() => location.search.includes('dz=')")
    wait_drawn(page)
    field = page.get_by_label("Code", exact=True)
    sliders = page.locator("input[type=range][data-dim]")
    expect(sliders).to_have_count(2)
    # one value, two controls: poll until the sliders (in the component's shadow root) show the field's code
    deadline = time.monotonic() + BROWSER_TIMEOUT_MS / 1000
    while True:
        code = [float(v) for v in field.input_value().split(",")]
        values = [float(sliders.nth(i).input_value()) for i in range(2)]
        if max(abs(a - b) for a, b in zip(code, values)) < 0.05 or time.monotonic() > deadline:
            break
        page.wait_for_timeout(250)
    assert max(abs(a - b) for a, b in zip(code, values)) < 0.05, (code, values)
    page.close()


def sidebar_link(page, title):
    return page.locator(".st-key-page_links a").filter(has_text=title).first


def query_of(href_or_url: str) -> dict:
    from urllib.parse import parse_qs, urlparse

    return {k: v[-1] for k, v in parse_qs(urlparse(href_or_url).query).items()}


@pytest.mark.browser
def test_sidebar_links_carry_the_view_a_fragment_just_changed(browser, app_url):
    """A map pick (typed) and a Decoder slider rerun only their fragment; every way of following a sidebar link
    (its copied href, a new tab, a left click) then carries the new value, and Back and reload keep it."""
    page = open_drawn(browser, f"{app_url}/?pick=10", 800, 1000)
    page.wait_for_function("() => document.documentElement.dataset.pageLinks === 'ready'")
    assert query_of(sidebar_link(page, "Decoder").get_attribute("href")) == {"pick": "10"}
    item = 51  # typed: the same fragment rerun as a click on a dot (test_browser clicks one)
    field = page.locator('[data-testid="stNumberInput"]').filter(has_text="Test item").locator("input")
    field.fill(str(item))
    field.press("Enter")
    page.locator("h3").filter(has_text=f"Test item {item}:").wait_for()
    page.wait_for_url(re.compile(rf"[?&]pick={item}(&|$)"))
    wait_drawn(page)
    copied = sidebar_link(page, "Decoder").get_attribute("href")  # what "Copy link address" copies
    assert copied.split("?")[0].endswith("/decoder") and query_of(copied) == {"pick": str(item)}, copied
    tab = open_drawn(browser, f"{app_url}{copied}", 800, 1000)  # a new tab on the copied link
    assert query_of(tab.url) == {"pick": str(item)}, tab.url  # the decoder kept the pick (else the URL drops it)
    tab.close()
    sidebar_link(page, "Decoder").click()
    page.wait_for_url(re.compile(r"/decoder\?"))
    wait_drawn(page)
    assert query_of(page.url) == {"pick": str(item)}, page.url
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text="z0").get_by_role("slider")
    thumb.focus()
    thumb.press("ArrowRight")
    page.wait_for_url(re.compile(r"[?&]z0="))
    wait_drawn(page)
    z0 = query_of(page.url)["z0"]
    back_link = sidebar_link(page, "Latent map").get_attribute("href")
    # the map's link carries the map's view (the pick), not the Decoder's z0 (issue 27)
    assert back_link.split("?")[0].endswith("/") and query_of(back_link) == {"pick": str(item)}, back_link
    page.reload()
    expect(page.locator("h1").filter(has_text="Decoder")).to_have_count(1)
    wait_drawn(page)
    assert query_of(page.url) == {"pick": str(item), "z0": z0}, page.url
    back_to(page, "Decoder")  # the slider's own history entry: the decoder at the pick
    assert query_of(page.url) == {"pick": str(item)}, page.url
    back_to(page, "Latent map")
    expect(page.locator("h3").filter(has_text=f"Test item {item}:")).to_have_count(1)
    page.close()


def test_the_first_visit_hint_is_dismissed_for_the_session(app):
    at = app(None)
    assert any("New here?" in i.value for i in at.info)
    at.button(key="dismiss_hint").click().run()
    assert not any("New here?" in i.value for i in at.info)
    at.run()
    assert not any("New here?" in i.value for i in at.info)


def test_the_first_visit_hint_shows_once_and_never_on_the_tour(app):
    at = app(None)
    assert any("New here?" in i.value for i in at.info)
    at.run()  # a rerun of the same page (a widget moved) keeps it
    assert any("New here?" in i.value for i in at.info)
    for page in ("decoder", "latent_map"):  # another page, then back: gone for the session
        at.switch_page(f"explorer/ui/pages/{page}.py").run()
        assert not any("New here?" in i.value for i in at.info), page
    at = app("explorer/ui/pages/tour.py")
    assert not any("New here?" in i.value for i in at.info)


def test_on_moons_a_true_half_moon_scores_zero_with_its_phase_where_the_proxy_punished_it(tiny_moons):
    from explorer import analyses
    from training.bank import moon_bank
    from training.metrics import path_scores

    half = analyses.true_renders(0.25, 0.25, 1, 16)  # (1, 1, 16, 16) a perfect half moon
    truth = path_scores(half, moon_bank(16))
    assert truth["distances"][0] < 1e-3 and abs(truth["phases"][0] - 0.25) < 0.02
    train = tiny_moons.train.x.reshape(len(tiny_moons.train.x), -1).numpy()  # sparse: no half moon in it
    proxy = analyses.nearest_distance(half, train)[0]
    assert proxy > 10 * truth["distances"][0] + 1e-3
    distances = {"AE": np.array([0.1, 0.2, 0.1]), "VAE": np.array([0.0, 0.01, 0.0])}
    scores = {"ae": {"phases": [0.1, 0.3, 0.5]}, "vae": {"phases": [0.1, 0.25, 0.5]}}
    label, text = analyses.score_summary(distances, scores, proxy=False)
    assert "true render" in label and "VAE 0.250" in text
    assert "rewards snapping" in analyses.score_summary(distances, scores, proxy=True)[1]


def test_equal_prior_distances_read_the_same_not_one_times_closer():
    from explorer import verdict

    assert "the same" in verdict.prior_verdict(0.0030, 0.0030, 0.01)
    assert "1.0x" not in verdict.prior_verdict(0.0030, 0.00301, 0.01)
    assert "VAE's are 3.0x closer" in verdict.prior_verdict(0.001, 0.003, 0.01)


def test_exports_carry_row_labels_and_t(tiny_moons):
    import io

    from PIL import Image

    from explorer import analyses

    strips = {"ae": np.zeros((5, 1, 16, 16), np.float32), "vae": np.ones((5, 1, 16, 16), np.float32)}
    png, gif = analyses.export_strips(strips)
    unlabelled = analyses.images.grid(np.concatenate(list(strips.values())), ncols=5)
    picture = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    assert picture.shape[1] > unlabelled.shape[1] * 4  # a label margin beside the upscaled strips
    margin = picture[:, :30]
    assert (margin < 128).any() and (margin > 128).any()  # dark text on the white margin
    frames = Image.open(io.BytesIO(gif))
    assert frames.n_frames >= 5


# --- words and pictures ------------------------------------------------------------------------


def test_the_ellipse_legend_entry_shows_when_only_the_vae_panel_has_ellipses():
    from explorer.figures import Colouring, MapPanel, latent_maps

    points = np.random.default_rng(0).normal(size=(30, 2))
    for colouring in (Colouring(np.linspace(0, 1, 30), "factor", "phase"), Colouring(None, "none")):
        panels = [MapPanel("AE", points), MapPanel("VAE", points, std=np.full((30, 2), 0.1))]
        fig = latent_maps(panels, colouring)
        shown = [t.name for t in fig.data if t.showlegend]
        assert shown.count("±1σ posterior") == 1 and fig.layout.showlegend, shown
        if colouring.kind == "factor":  # beside the colour bar the legend sits below the maps
            assert fig.layout.legend.orientation == "h" and fig.layout.legend.y < 0
            # the ellipses' entry under the VAE panel, where they are drawn (issue 27), not under the AE's
            ellipse = next(t for t in fig.data if t.legendgroup == "ellipses")
            assert ellipse.legend == "legend2" and ellipse.xaxis == "x2"
            assert fig.layout.legend2.x == fig.layout.xaxis2.domain[0] > 0.5 and fig.layout.legend2.y < 0


def test_titled_charts_leave_room_for_the_toolbar_and_hole_maps_name_their_path():
    from explorer import figures

    grid = np.linspace(-1, 1, 4)
    panel = figures.HolePanel(
        "AE", np.zeros((4, 4)), grid, grid, codes=np.zeros((3, 2)), path=np.zeros((2, 2)), path_name="path: 6 → 2"
    )
    holes = figures.hole_maps([panel, panel], "distance")
    epochs = [{"epoch": 1, **{f"{s}_{t}": 1.0 for s in ("train", "test") for t in ("reconstruction", "kl", "total")}}]
    from training.sweep import by_beta

    rows = [dict(beta=b, rate=1.0, distortion=2.0, active_units=1, latent_dim=2, run="r") for b in (0.5, 1.0)]
    plane = figures.rate_distortion({"r": by_beta(rows)})
    for fig in (holes, figures.training_curves({"vae": epochs}), plane):
        assert fig.layout.margin.t >= figures.MODEBAR_CLEARANCE
    names = [t.name for t in holes.data if t.showlegend]
    assert "path: 6 → 2" in names and not any("crescent" in n for n in names)
    codes = next(t for t in holes.data if t.name == "test codes")
    assert codes.marker.line.width > 0 and codes.marker.line.color != "white"  # a visible swatch on white


def test_every_metric_help_says_which_way_is_better_and_the_proxy_caption_reads_once():
    from explorer import analyses
    from explorer.i18n import CATALOGUES
    from training.bank import Bank

    helps = {k: v for k, v in CATALOGUES["en"].items() if k.startswith("help_")}
    assert len(helps) > 15
    for name, text in helps.items():
        assert any(w in text for w in ("better", "higher", "lower", "near 0")), name
    proxy = Bank(np.zeros((1438, 4)), None, "nearest of 1,438 training images (proxy)")
    caption = analyses.distance_caption(proxy)
    assert "closest of the nearest" not in caption and "nearest of 1,438 training images" in caption
    assert "**smoothness**" in analyses.metric_help("distance", "smoothness")


def test_the_traversal_grid_starts_on_the_two_most_active_dimensions_not_a_collapsed_one(app):
    from tests.helpers import ROOT
    from training.store import load_set

    kl = np.array(load_set(ROOT / "checkpoints" / "digits-8d")["vae"].metrics["kl_per_dim"])
    assert kl.min() < 0.01  # the bundled digits-8d VAE has collapsed dimensions (z0 among them)
    at = app(DECODER, dataset="digits", pair="digits-8d")
    chosen = [at.selectbox(key=k).value for k in ("grid_a", "grid_b")]
    assert chosen[0] != chosen[1] and all(kl[d] > 0.1 for d in chosen), (chosen, kl)


def test_the_context_matches_the_page(app):
    """Issue 27: the Conditional VAE page shows no model pair in the sidebar; the lab says its study over
    seeds is not about a user's run; Exact inference says what its heat map and ellipses are."""
    from explorer.i18n import CATALOGUES

    at = app("explorer/ui/pages/conditional.py")
    assert not [s for s in at.sidebar.selectbox if s.key in ("pair", "dataset")]
    assert not any(m.value.startswith("| | AE | VAE |") for m in at.sidebar.markdown)
    assert any(c.value == CATALOGUES["en"]["side_pairless"] for c in at.sidebar.caption)
    lab = "explorer/ui/pages/half_moon.py"
    mine = app(lab, dataset="moons", pair=TINY_MOONS)
    assert any(h.value.startswith("The lab over seeds") for h in mine.subheader)
    assert any(i.value.startswith("Not about your run") and TINY_MOONS in i.value for i in mine.info)
    bundled = app(lab, dataset="moons", pair="moons-sparse-2d")
    assert any(h.value.startswith("The lab over seeds") for h in bundled.subheader)
    assert not any(i.value.startswith("Not about your run") for i in bundled.info)
    at = app("explorer/ui/pages/inference.py", dataset="moons", pair=TINY_MOONS)
    assert any(c.value == CATALOGUES["en"]["inf_map_caption"] for c in at.caption)


def test_an_ae_code_off_the_grid_is_drawn_at_its_edge_and_the_last_ess_label_inside():
    from functools import partial
    from types import SimpleNamespace

    from explorer import figures
    from explorer.i18n import CATALOGUES, tr

    n = 8
    r = SimpleNamespace(
        density=np.ones((n, n)), lo=np.array([-3.0, -3.0]), hi=np.array([3.0, 3.0]), q_mean=np.zeros(2),
        q_cov=np.eye(2) * 0.1, star_mean=np.zeros(2), star_cov=np.eye(2) * 0.1,
        iwae={1: -5.0, 10: -4.5, 5000: -4.0}, ess={1: 1.0, 10: 5.0, 5000: 376.0}, log_px=-3.9,
    )  # fmt: skip
    inside = figures.posterior_map(r, np.array([1.0, -2.0])).data[-1]
    assert (inside.x[0], inside.y[0]) == (1.0, -2.0) and inside.marker.symbol == "x"
    off = figures.posterior_map(r, np.array([-18.9, 11.4])).data[-1]  # the issue's item 149
    assert (off.x[0], off.y[0]) == (-3.0, 3.0) and off.name == CATALOGUES["en"]["fig_ae_code_off"]
    assert off.marker.symbol == "arrow-wide-open" and -90 < off.marker.angle < 0  # up and to the left
    assert "-18.90, 11.40" in off.hovertemplate
    zh = figures.posterior_map(r, np.array([-18.9, 11.4]), t=partial(tr, "zh")).data[-1]
    assert zh.name == CATALOGUES["zh"]["fig_ae_code_off"]
    curve = figures.iwae_curve(r).data[0]
    assert curve.textposition[-1] == "bottom left" and curve.text[-1] == "ESS 376.0"


def test_the_decoder_line_is_sent_as_pictures_and_its_rug_one_mark_per_pixel():
    """Issue 27 item 1: the tour's step 6 sent 0.5 MB (a heatmap of every pixel of every decode and a marker per
    data code) and Plotly took about a second to draw it in Chromium. The strip is a PNG placed on the code axis,
    the rug at most RUG_MARKS marks, and the picture still shows the decodes in order (bright where they are)."""
    import base64
    import io

    from PIL import Image

    from explorer import figures

    n, side = 81, 28
    images = np.zeros((n, 1, side, side), np.float32)
    images[:, 0, :, : side // 2] = np.linspace(0, 1, n)[:, None, None]  # brightness grows along the line
    codes = np.linspace(-3, 3, n)
    data = np.random.default_rng(0).normal(size=20_000)
    panel = figures.LinePanel("VAE", codes, images, np.linspace(0, 1, n), np.ones(n, bool), data)
    fig = figures.line_strips([panel, panel])
    assert len(fig.to_json()) < 60_000
    strips = [tr for tr in fig.data if tr.type == "image"]
    assert len(strips) == 2 and not any(tr.type == "heatmap" for tr in fig.data)
    strip = strips[0]
    half = (codes[1] - codes[0]) / 2  # each decode spans its code's cell
    dx = (codes[-1] - codes[0] + 2 * half) / (n * side)
    assert (strip.x0, strip.dx) == (pytest.approx(codes[0] - half + dx / 2), pytest.approx(dx))
    png = np.asarray(Image.open(io.BytesIO(base64.b64decode(strip.source.split(",", 1)[1]))))
    assert png.shape == (side, n * side)
    assert png[0, 0] == 0 and png[0, (n - 1) * side] == 255 and png[0, side - 1] == 0
    rug = next(tr for tr in fig.data if tr.name == "data codes")
    assert len(rug.x) <= figures.RUG_MARKS
    assert min(rug.x) == pytest.approx(data.min(), abs=1e-5) and max(rug.x) == pytest.approx(data.max(), rel=1e-2)
