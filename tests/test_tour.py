"""The guided tour: catalogues agree, URL state is clamped, numbers come from the pair, every step renders."""

import string
from functools import partial
from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest
import torch

from explorer import latents, tour
from explorer.i18n import CATALOGUES
from explorer.ui import context
from explorer.ui.urlstate import parse
from tests.helpers import ROOT, TINY_MOONS, open_app
from training.bank import bank_for
from training.store import load_set


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_catalogues_have_the_same_keys_and_placeholders():
    en, zh = CATALOGUES["en"], CATALOGUES["zh"]
    assert set(en) == set(zh)
    for key in en:
        assert fields(en[key]) == fields(zh[key]), key
    assert all(f"s{n}_title" in en for n in range(1, tour.STEPS + 1))


def test_url_step_and_language_are_clamped():
    assert parse("step", "99") == str(tour.STEPS)
    assert parse("step", "0") == "1"
    assert parse("step", "nan") is None
    assert parse("lang", "zh") == "zh"


def numbers(pair_dir):
    """The headline numbers of every step that reads the pair, computed the way the page computes them.

    Step 9 is left out: it reads the bundled conditional sets, whatever the pair."""
    from explorer.inference import analyse_image
    from training.datasets import load_dataset

    pair = load_set(pair_dir)
    models = {kind: pair[kind].model for kind in ("ae", "vae")}
    data = load_dataset(pair["vae"].config.data)
    x = data.test.x
    codes = {kind: latents.encode(m, x) for kind, m in models.items()}
    a, b = tour.endpoints(data)
    bank = bank_for(data)
    recon = tour.reconstruction(models, codes, x, a)
    hole = tour.hole(models, codes, bank, a, b, 0.5)
    sample = tour.sample(models["vae"], bank, x[a], 1.0)
    kl = tour.kl_term(models["vae"], x[a], 1.0)
    beta = tour.beta_row("pair", 1.0, codes["vae"])
    mid = tour.midpoint(models, codes, bank, data, a, b, tour.PATH_STEPS).scores
    r = analyse_image(models["vae"], x[a : a + 1])
    closing = tour.closing(recon, hole, beta, None, r)
    headline = {
        1: [recon.mse["ae"], recon.mse["vae"], recon.bce["ae"], recon.bce["vae"]],
        2: [hole.midpoint["ae"], hole.midpoint["vae"]],
        3: [*sample.z, sample.distance],
        4: [*tour.log_variance(codes["vae"], a).logvar],
        5: [*kl.per_dim, kl.reconstruction, beta.mean_kl],
        6: [mid[k]["mean_distance"] for k in ("ae", "vae")],
        7: [r.log_px, r.elbo, r.kl_posterior, r.amortisation_gap],
        8: [r.iwae[k] for k in sorted(r.iwae)[:2]],
        10: [v for c in closing for v in c.values.values() if isinstance(v, float)],
    }
    return headline, recon, hole, kl, sample


@pytest.mark.slow
def test_numbers_change_with_the_pair(tiny_pair_dir):
    bundled, _, _, k1, s1 = numbers(ROOT / "checkpoints" / "moons-sparse-2d")
    tiny = numbers(tiny_pair_dir)[0]
    assert set(bundled) == set(range(1, tour.STEPS + 1)) - {9}
    for step, values in bundled.items():  # every number of the step moves when the pair does
        assert len(values) == len(tiny[step]) > 0, step
        for got, other in zip(values, tiny[step]):
            assert got != pytest.approx(other, rel=1e-3), (step, got, other)
    # the reparameterisation's gradients are the trick's: dz/dmu = 1, dz/dsigma = eps
    assert s1.grad_mean == pytest.approx(1.0) and s1.grad_std == pytest.approx(1.0)
    assert s1.sigmas_from_mean == pytest.approx(1.0, rel=1e-4)
    # KL per dimension by the closed form, and the objective is recon + beta * KL
    assert k1.per_dim == pytest.approx(0.5 * (k1.mean**2 + k1.std**2 - 1 - torch.log(torch.tensor(k1.std**2)).numpy()))
    assert k1.objective == pytest.approx(k1.reconstruction + k1.per_dim.sum())


def same(a, b) -> bool:
    """A URL value and the session state it became: 0.5 == "0.5", True == "true", 7 == "7"."""
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a).lower() == str(b).lower()


SCRIPTS = {"": "latent_map", "lab": "half_moon"}  # app.py's URL paths that differ from the script's name


def full_page_link(at, lang: str) -> tuple[str, dict[str, str]] | None:
    """The step's "open this in the full page" link: (page script, its query parameters)."""
    links = [link.proto for link in at.page_link if link.proto.label == CATALOGUES[lang]["open_full"]]
    assert len(links) <= 1, links
    if not links:
        return None
    script = SCRIPTS.get(links[0].page, links[0].page)  # the URL path -> explorer/ui/pages/<script>.py
    return script, {k: v[0] for k, v in parse_qs(links[0].query_string).items()}


def step_title(at) -> str:
    """The step's title: the heading of the element that opens the step (a rule, the title, its lead-in)."""
    (heading,) = [m.value.split("\n")[2] for m in at.markdown if m.value.startswith("---\n\n### ")]
    return heading.removeprefix("### ")


@pytest.mark.slow  # 7-17 s of AppTest a language; runs in make test
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_step_renders_and_its_full_page_opens_with_the_same_state(app, lang):
    at = app("explorer/ui/pages/tour.py", lang=lang, pair=TINY_MOONS, dataset="moons")
    seen, links = [], {}
    for step in range(1, tour.STEPS + 1):
        assert at.session_state["step"] == step
        assert not at.exception, (step, at.exception)
        assert not at.error, (step, [e.value for e in at.error])
        seen.append(step_title(at))
        links[step] = full_page_link(at, lang)
        if step < tour.STEPS:
            at.button(key="tour_next").click().run()
    assert seen == [CATALOGUES[lang][f"s{n}_title"] for n in range(1, tour.STEPS + 1)]
    at.button(key="tour_back").click().run()
    assert at.session_state["step"] == tour.STEPS - 1
    # steps 1-9 link out (step 10 states the verdicts); the page they open holds the tour's state
    assert [s for s, link in links.items() if link] == list(range(1, tour.STEPS))
    assert links[1][1]["pick"] == links[4][1]["pick"]  # both moon sliders start at the crescent
    assert links[2][0] == "compare" and same(links[2][1]["t"], 0.5)
    checked = set()
    for step, (script, query) in ((s, link) for s, link in links.items() if link):
        assert query["pair"] == TINY_MOONS and query["dataset"] == "moons", (step, query)
        assert query.get("lang", "en") == lang, (step, query)  # the full page leads back to this language
        full = open_app(f"explorer/ui/pages/{script}.py", **query)
        for key, value in query.items():
            if key in full.session_state:
                assert same(full.session_state[key], value), (step, script, key, full.session_state[key], value)
                checked.add(key)
    assert {"pick", "ellipses", "t", "phase_a", "lab_steps", "cond_class", "cond_item"} <= checked, checked


def inference(log_px, elbo, star, iwae, se=0.01):
    """The fields of explorer.inference.ImageInference that steps 7-8's closing lines read."""

    return SimpleNamespace(
        log_px=log_px,
        elbo=elbo,
        elbo_se=se,
        elbo_star_se=se,
        kl_posterior=log_px - elbo,
        approximation_gap=log_px - star,
        amortisation_gap=star - elbo,
        iwae=iwae,
        iwae_se={k: se for k in iwae},
    )


def test_bound_claims_follow_the_numbers():
    # the bundled sparse pair's crescent: the encoder leaves most of the gap and IWAE-k closes in
    good = tour.bound_claims(inference(-23.6, -70.9, -24.7, {1: -70.9, 50: -23.8, 5000: -23.6}))
    assert [c.verdict for c in good] == ["holds", "holds", "holds"]
    assert good[0].values["gap"] == pytest.approx(47.3)
    # an ELBO above log p(x), a gap left by the Gaussian family, IWAE-k falling back: each line flips
    bad = tour.bound_claims(inference(-23.6, -23.0, -30.0, {1: -23.0, 50: -25.0, 5000: -26.0}))
    assert [c.verdict for c in bad] == ["fails", "fails", "fails"]
    # differences inside their noise decide nothing: amortisation 0.30 vs approximation 0.25 at s.e. 0.1
    close = tour.bound_claims(inference(-23.6, -24.15, -23.85, {1: -24.15, 50: -24.1, 5000: -24.05}, se=0.1))
    assert [c.verdict for c in close] == ["holds", "unclear", "unclear"]
    low, high = close[1].interval
    assert low < 0 < high and high - low == pytest.approx(2 * 1.96 * 0.1 * 5**0.5, rel=1e-3)
    # the IWAE line gives both gaps with their standard errors (k = 1 is the ELBO's)
    assert close[2].values["elbo_gap_se"] == 0.1 and close[2].values["gap_se"] == 0.1
    from explorer.i18n import tr

    line = tr("en", "c_iwae_numbers", **close[2].values)
    assert line.count("±") == 2, line


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_closing_lines_state_the_claim_then_the_numbers_then_the_verdict(lang):
    """Step 10: one wording of the claim whatever the verdict (no double negatives), its numbers, and
    holds / does not hold / no clear difference with the interval, in both languages."""
    from explorer.i18n import tr
    from explorer.ui.tour_steps import claim_text

    def t(key, **values):
        return tr(lang, key, **values)

    made = {
        "holds": tour.claim("mid", True, ae=0.2, vae=0.1),
        "fails": tour.claim("mid", False, ae=0.1, vae=0.3),
        "unclear": tour.decided("mid", -0.01, 0.02, ae=0.1, vae=0.1),
    }
    lines = {verdict: claim_text(t, c) for verdict, c in made.items()}
    claim = t("c_mid")
    for verdict, line in lines.items():
        ae = f"{made[verdict].values['ae']:.4f}"
        assert line.startswith(claim) and len(claim) < line.index(ae) < line.index("**"), line
    assert t("holds") in lines["holds"] and t("fails") in lines["fails"] and "+0.02" in lines["unclear"]
    assert len({line.split("**")[1] for line in lines.values()}) == 3  # three different verdicts


def test_lab_lines_in_english_are_the_labs_own_sentences_and_in_chinese_carry_the_same_numbers():
    import json

    from explorer.i18n import tr
    from explorer.ui.lab_sections import family_text, phase_text
    from explorer.ui.tour_steps import lab_line
    from training.lab import RESULTS, family_sentence, phase_sentence

    results = json.loads(RESULTS.read_text())
    rows = results["comparisons"]
    assert rows
    for row in rows:
        en = lab_line(partial(tr, "en"), row)
        zh = lab_line(partial(tr, "zh"), row)
        assert en == row["verdict"]
        assert f"{row['ratio']:.2f}" in zh and f"{row['low']:.2f}" in zh and f"p = {row['p']:.3f}" in zh
        assert not any(
            c.isascii() and c.isalpha() and c not in "AEVIN"
            for c in zh.replace("AE/VAE", "")
            .replace("MSE", "")
            .replace("N(0, I)", "")
            .replace("t 区间", "")
            .replace("p = ", "")
        ), zh
    for regime, finding in results.get("phase_curves", {}).items():
        assert phase_text(partial(tr, "en"), regime, finding) == phase_sentence(regime, finding)
        assert f"{finding['difference']:+.1f}" in phase_text(partial(tr, "zh"), regime, finding)
    families = results["family_curves"]
    assert set(families) == {"diag", "full", "flow", "iwae50"}  # every bundled posterior family's curve
    for family, finding in families.items():
        en = family_text(partial(tr, "en"), family, finding, families["diag"])
        assert en == family_sentence(family, finding, families["diag"])
        assert f"{finding['difference']:+.1f}" in family_text(partial(tr, "zh"), family, finding, families["diag"])


def test_the_midpoint_step_offers_the_bundled_1d_pair_and_back(app):
    """Issue 27: the tutorial's own example has a 1-D code; step 6 switches the tour to it in one click."""
    at = app("explorer/ui/pages/tour.py", step="6", dataset="moons", pair="moons-sparse-2d")
    at.button(key="tour_use_pair").click().run()
    assert at.sidebar.selectbox(key="pair").value == "moons-sparse-1d" and at.session_state["step"] == 6
    assert not at.exception and not at.error
    assert at.button(key="tour_use_pair").label == CATALOGUES["en"]["s6_use_2d"].format(pair="moons-sparse-2d")
    at.button(key="tour_use_pair").click().run()
    assert at.sidebar.selectbox(key="pair").value == "moons-sparse-2d"


def test_an_unknown_pair_in_the_url_says_which_pairs_exist_and_a_known_one_brings_its_dataset(app):
    at = app(None, pair="checkpoints/moons-sparse-1d")
    said = [w.value for w in at.warning if "checkpoints/moons-sparse-1d" in w.value]
    assert len(said) == 1 and "closest names: moons-sparse-1d," in said[0], said  # the closest name first
    named = said[0].split("closest names: ", 1)[1].split(" (choose", 1)[0].split(", ")
    assert len(named) == context.NAMED_PAIRS and f"It has {len(context.model_sets())} pairs" in said[0]
    assert at.sidebar.selectbox(key="pair").value == "moons-sparse-2d"
    at.run()  # said once: the URL now names the pair shown
    assert not [w for w in at.warning if "checkpoints/" in w.value]
    at = app(None, pair="digits-2d")  # a link without its dataset
    assert at.sidebar.selectbox(key="dataset").value == "digits"
    assert at.sidebar.selectbox(key="pair").value == "digits-2d"


def test_a_long_pair_list_is_searched_not_sent_whole(app, monkeypatch):
    """Beyond PAIR_OPTIONS pairs the chooser sends that many (the chosen one always among them) and a search box
    finds the others."""
    monkeypatch.setattr(context, "PAIR_OPTIONS", 2)
    moons = [p for p, info in context.model_sets().items() if info.dataset == "moons"]
    chosen = [p for p in moons if not p.startswith("runs/") and "sparse-1d" not in p][-1]  # not among the first 2
    at = app(None, dataset="moons", pair=chosen)
    pairs = at.sidebar.selectbox(key="pair")
    assert pairs.value == chosen and len(pairs.options) == 3 and pairs.options[0] == chosen
    assert f"2 of {len(moons)} pairs listed" in " ".join(c.value for c in at.sidebar.caption)
    at.sidebar.text_input(key="pair_find").input("sparse-1d").run()
    assert "moons-sparse-1d" in at.sidebar.selectbox(key="pair").options
    assert at.sidebar.selectbox(key="pair").value == chosen  # still the one shown
    at.sidebar.text_input(key="pair_find").input("no such name").run()
    assert at.sidebar.selectbox(key="pair").options == [chosen] and not at.exception


def test_a_gaussian_codes_entropy_has_no_floor_and_sigma_rows_are_its_quantiles():
    """Issue 27 item 9 (tutorial 002): h = 1/2 log(2 pi e sigma^2) falls by log 10 per decade of sigma, without end."""
    import math

    import numpy as np

    assert tour.gaussian_entropy(1.0) == pytest.approx(0.5 * math.log(2 * math.pi * math.e))
    hs = [tour.gaussian_entropy(10.0**-k) for k in range(0, 12, 2)]
    assert np.allclose(np.diff(hs), -2 * math.log(10))
    std = np.array([[0.5, 0.01], [0.2, 0.04], [1.0, 0.3]])
    row = tour.sigma_row("x", SimpleNamespace(std=std))
    assert (row.latent_dim, row.n) == (2, 6)
    assert row.quantiles[0] == 0.01 and row.quantiles[4] == 1.0 and row.quantiles[2] == pytest.approx(0.25)
    assert row.nats == pytest.approx(math.log(100)) and row.entropy[1] < row.entropy[0]


def markdown_table(text: str) -> list[dict[str, str]]:
    """The rows of the Markdown table in text (header -> cell), its Markdown escapes undone."""
    import re

    cells = lambda line: [re.sub(r"\\(.)", r"\1", c.strip()) for c in line.strip().strip("|").split("|")]  # noqa: E731
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return [dict(zip(cells(lines[0]), cells(line))) for line in lines[2:]]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_step_4_measures_every_bundled_vaes_sigma_and_it_stays_above_zero(app, lang):
    """The table has one row per bundled VAE, its sigmas positive and ordered; the sentence's range is the table's."""
    at = app("explorer/ui/pages/tour.py", lang=lang, step="4", pair="moons-sparse-2d", dataset="moons")
    assert not at.exception and not at.error
    words = CATALOGUES[lang]
    table = markdown_table(next(m.value for m in at.markdown if words["col_sigma_min"] in m.value))
    bundled = sorted(p.name for p in (ROOT / "checkpoints").iterdir() if (p / "vae.json").is_file())
    assert sorted(row[words["col_set"]] for row in table) == bundled
    smallest = [float(row[words["col_sigma_min"]]) for row in table]
    largest = [float(row[words["col_sigma_max"]]) for row in table]
    assert all(0 < lo <= hi for lo, hi in zip(smallest, largest))
    said = words["s4_info_result"].split("{n}")[1].split("{lo")[0]  # the words before the smallest sigma
    text = next(m.value for m in at.markdown if said in m.value)
    assert f"{min(smallest):.2e}" in text and f"{max(largest):.3f}" in text


def test_p_of_x_summed_as_a_mixture_of_decoder_components_reaches_the_exact_integral():
    """Issue 27 item 9: p(x) = sum_k p(z_k) h^2 p(x|z_k) over ever finer grids converges to the quadrature's
    log p(x); the components shown are the largest shares of p(x), and their shares are a distribution."""
    import numpy as np

    from training.inference import exact_log_px

    vae = load_set(ROOT / "checkpoints" / "moons-sparse-2d")["vae"].model
    x = bundled_test_image("moons-sparse-2d", 100)
    m = tour.mixture(vae, x)
    exact = float(exact_log_px(vae, x).log_px[0])
    assert abs(m.log_px[tour.MIXTURE_SIZES[-1]] - exact) < 0.05
    assert abs(m.log_px[tour.MIXTURE_SIZES[0]] - exact) > abs(m.log_px[tour.MIXTURE_SIZES[-1]] - exact)
    assert m.prior_mass == pytest.approx(1.0, abs=1e-4) and m.components == tour.MIXTURE_SIZES[-1] ** 2
    assert np.all(np.diff(m.shares) <= 0) and 0 < m.shares.sum() <= 1 and m.shares.size <= m.needed <= m.components
    assert m.decodes.shape == (tour.MIXTURE_SHOWN, *x.shape[1:]) and np.all(np.abs(m.codes) < tour.MIXTURE_BOX)


def bundled_test_image(pair: str, index: int) -> torch.Tensor:
    from training.store import dataset_for

    return dataset_for(load_set(ROOT / "checkpoints" / pair).lead.config).test.x[index : index + 1]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_step_7_shows_p_of_x_as_a_mixture_with_its_components(app, lang):
    at = app("explorer/ui/pages/tour.py", lang=lang, step="7", pair="moons-sparse-2d", dataset="moons")
    assert not at.exception and not at.error
    words = CATALOGUES[lang]
    lead = words["s7_mixture_result"].split("{shown}")[1][:6]
    assert any(lead in m.value for m in at.markdown)
    import re

    finest = f"{tour.MIXTURE_SIZES[-1]}×{tour.MIXTURE_SIZES[-1]}: "
    sums = next(m.value for m in at.markdown if finest in m.value)
    finest, after = re.match(r"(-?\d+\.\d\d)(.*)", sums.split(finest)[1], re.S).groups()
    exact = re.findall(r"-?\d+\.\d\d\b", after)[0]  # the exact integral follows the sums
    finest, exact = float(finest), float(exact)
    assert abs(finest - exact) < 0.05
    # the same decoder's families: each approximation gap with its Monte Carlo standard error
    families = next(m.value for m in at.markdown if words["s7_families"].split("{diag")[0] in m.value)
    assert len(re.findall(r"\d\.\d\d ± \d+\.\d\d", families)) == 2, families


def test_the_step_widget_takes_its_value_from_one_place_and_logs_no_warning(app, monkeypatch):
    """Issue 27: Back / Next write the step into Session State; a default= as well made Streamlit log 'created
    with a default value but also had its value set via the Session State API' (once per process: reset here)."""
    from streamlit.elements.lib import policies

    warned = []
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    monkeypatch.setattr(policies._LOGGER, "warning", lambda msg, *args, **kw: warned.append(msg % args))
    at = app("explorer/ui/pages/tour.py", pair=TINY_MOONS, dataset="moons")
    assert at.session_state["step"] == 1 and at.segmented_control(key="step").value == 1
    at.button(key="tour_next").click().run()
    at.button(key="tour_next").click().run()
    at.button(key="tour_back").click().run()
    assert at.session_state["step"] == 2 and not at.exception
    assert step_title(at) == CATALOGUES["en"]["s2_title"]
    assert not [w for w in warned if "default value" in w], warned


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_step_3_says_its_map_draws_a_spread_of_the_codes_not_all(app, lang):
    """The chart draws MAP_POINTS codes of a larger split; the caption gives both counts (the split's from its data)."""
    from explorer.ui.tour_steps import MAP_POINTS
    from training.datasets import load_dataset

    at = app("explorer/ui/pages/tour.py", lang=lang, step="3", pair="moons-sparse-2d", dataset="moons")
    assert not at.exception and not at.error
    total = len(load_dataset(load_set(ROOT / "checkpoints" / "moons-sparse-2d")["vae"].config.data).test.x)
    assert total > MAP_POINTS
    said = CATALOGUES[lang]["tour_map_subset"].format(shown=MAP_POINTS, total=total)
    assert said in [c.value for c in at.caption]


def test_a_step_sends_its_images_inline_and_builds_its_chart_once(app, monkeypatch):
    """A step change in a browser waited on one media request per image and on rebuilding its Plotly figure
    (40-130 ms): the images travel inside one HTML element as data URIs, and a step shown again sends the
    chart (static SVG) its first showing built (same pair, language and controls)."""
    from explorer import figures

    built = []
    posterior_map = figures.posterior_map
    monkeypatch.setattr(figures, "posterior_map", lambda *a, **k: built.append(1) or posterior_map(*a, **k))
    at = app("explorer/ui/pages/tour.py", lang="zh", step="7", pair="moons-sparse-2d", dataset="moons")
    assert not at.exception and not at.error
    assert not at.image  # no st.image: each of its pictures is a request the browser makes after the run
    inline = [h.proto.body for h in at.get("html") if "le-tour-images" in h.proto.body]
    assert inline and all(body.count("data:image/png;base64,") >= 1 for body in inline)
    assert inline[0].count("<img") == tour.MIXTURE_SHOWN  # the mixture's components, one element
    charts = [m.value for m in at.markdown if m.value.startswith('<div class="le-chart"><svg')]
    assert len(charts) == 1 and not at.get("plotly_chart")  # the posterior, static
    at.run()
    assert not at.exception and [m.value for m in at.markdown if m.value.startswith('<div class="le-chart">')] == charts
    assert len(built) <= 1  # built on the first showing (or before this test), never on the rerun
