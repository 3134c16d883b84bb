"""The guided tour: catalogues agree, URL state is clamped, numbers come from the pair, every step renders."""

import string

import pytest
import torch

from explorer import latents, tour
from explorer.i18n import CATALOGUES
from explorer.ui.urlstate import parse
from tests.helpers import ROOT, TINY_MOONS
from training.metrics import bank_for
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
    """The tour's headline numbers on one pair, computed the way the page computes them."""
    pair = load_set(pair_dir)
    models = {kind: pair[kind].model for kind in ("ae", "vae")}
    from training.datasets import load_dataset

    data = load_dataset(pair["vae"].config.data)
    codes = {kind: latents.encode(m, data.test.x) for kind, m in models.items()}
    a, b = tour.endpoints(data)
    bank = bank_for(data)
    recon = tour.reconstruction(models, codes, data.test.x, a)
    hole = tour.hole(models, codes, bank, a, b, 0.5)
    kl = tour.kl_term(models["vae"], data.test.x[a], 1.0)
    sample = tour.sample(models["vae"], bank, data.test.x[a], 1.0)
    return recon, hole, kl, sample


def test_numbers_change_with_the_pair(tiny_pair_dir):
    bundled = numbers(ROOT / "checkpoints" / "moons-sparse-2d")
    tiny = numbers(tiny_pair_dir)
    (r1, h1, k1, s1), (r2, h2, k2, _) = bundled, tiny
    assert r1.mse["ae"] != pytest.approx(r2.mse["ae"])
    assert h1.midpoint["vae"] != pytest.approx(h2.midpoint["vae"])
    assert k1.per_dim.sum() != pytest.approx(k2.per_dim.sum())
    # the reparameterisation's gradients are the trick's: dz/dmu = 1, dz/dsigma = eps
    assert s1.grad_mean == pytest.approx(1.0) and s1.grad_std == pytest.approx(1.0)
    assert s1.sigmas_from_mean == pytest.approx(1.0, rel=1e-4)
    # KL per dimension by the closed form, and the objective is recon + beta * KL
    assert k1.per_dim == pytest.approx(0.5 * (k1.mean**2 + k1.std**2 - 1 - torch.log(torch.tensor(k1.std**2)).numpy()))
    assert k1.objective == pytest.approx(k1.reconstruction + k1.per_dim.sum())


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_step_renders(app, lang):
    at = app("explorer/ui/pages/tour.py", lang=lang, pair=TINY_MOONS, dataset="moons")
    seen = []
    for step in range(1, tour.STEPS + 1):
        assert at.session_state["step"] == step
        assert not at.exception, (step, at.exception)
        assert not at.error, (step, [e.value for e in at.error])
        seen.append(at.subheader[0].value)
        if step < tour.STEPS:
            at.button(key="tour_next").click().run()
    assert seen == [CATALOGUES[lang][f"s{n}_title"] for n in range(1, tour.STEPS + 1)]
    at.button(key="tour_back").click().run()
    assert at.session_state["step"] == tour.STEPS - 1


def inference(log_px, elbo, star, iwae):
    """The fields of explorer.inference.ImageInference that steps 7-8's closing lines read."""
    from types import SimpleNamespace

    return SimpleNamespace(
        log_px=log_px,
        elbo=elbo,
        elbo_se=0.01,
        kl_posterior=log_px - elbo,
        approximation_gap=log_px - star,
        amortisation_gap=star - elbo,
        iwae=iwae,
    )


def test_bound_claims_follow_the_numbers():
    # the bundled sparse pair's crescent: the encoder leaves most of the gap and IWAE-k closes in
    good = tour.bound_claims(inference(-23.6, -70.9, -24.7, {1: -70.9, 50: -23.8, 5000: -23.6}))
    assert [c.holds for c in good] == [True, True, True]
    assert good[0].values["gap"] == pytest.approx(47.3)
    # an ELBO above log p(x), a gap left by the Gaussian family, IWAE-k falling back: each line flips
    bad = tour.bound_claims(inference(-23.6, -23.0, -30.0, {1: -23.0, 50: -25.0, 5000: -26.0}))
    assert [c.holds for c in bad] == [False, False, False]
    assert [c.key for c in bad] == ["c_elbo_no", "c_estep_no", "c_iwae_no"]
