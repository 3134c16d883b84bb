"""The sidebar's VAE numbers: ELBO ± its standard error, and an NLL that says how it was measured."""

from tests.helpers import TINY_MOONS
from training.metric_text import elbo_text, nll_text

OLD = {"elbo": -300.2269, "iwae_nll": 98.5399, "iwae_k": 50}  # a sidecar from before issue 15
NEW = {
    **OLD,
    "elbo_se": 0.7495,
    "elbo_samples": 100,
    "iwae_k": 5000,
    "iwae_ess": 396.9,
    "iwae_n_images": 200,
    "bernoulli_floor": 35.57,
}


def test_old_and_new_sidecars_read_as_what_they_measured():
    assert elbo_text(OLD, 1) == "-300.2 (1 draw)"
    assert elbo_text(NEW, 1) == "-300.2 ± 0.7"
    assert nll_text(OLD, 1) == "98.5 IWAE-50"
    assert nll_text(NEW, 1) == "98.5 IWAE-5000, ESS 397, 200 images"
    exact = {**NEW, "exact_nll": 93.838, "exact_n_images": 50}
    assert nll_text(exact, 1) == "93.8 exact (50 images)" and nll_text(exact, 1, detail=False) == "93.8 exact"


def test_help_says_which_way_is_better_and_how_it_was_measured():
    from explorer.ui.context import metrics_table_help as metric_help

    old, new = metric_help(OLD), metric_help({**NEW, "exact_nll": 93.8, "exact_n_images": 200})
    assert "higher is better" in old["ELBO"] and "one draw per image" in old["ELBO"]
    assert "100 draws per image" in new["ELBO"]
    assert "lower is better" in old["NLL"] and "IWAE-50" in old["NLL"]
    assert "exact" in new["NLL"] and "below 35.6" in new["NLL"]
    assert "lower is better" in new["BCE"] and "higher uses more" in new["active"]


def test_sidebar_shows_the_vae_elbo_and_nll(app):
    at = app(None, dataset="moons", pair=TINY_MOONS)
    tables = [m for m in at.sidebar.markdown if m.value.startswith("| | AE | VAE |")]
    assert len(tables) == 1 and "which way" not in tables[0].value
    rows = {
        cells[0]: dict(zip(("AE", "VAE"), cells[1:]))
        for line in tables[0].value.splitlines()[2:]
        for cells in [[c.strip().replace("\\", "") for c in line.strip("|").split("|")]]
    }
    assert set(rows) == {"BCE", "ELBO", "NLL", "active"}
    vae = {name: row["VAE"] for name, row in rows.items()}
    assert " ± " in vae["ELBO"] and vae["NLL"].endswith(" exact")
    assert float(vae["NLL"].split()[0]) <= -float(vae["ELBO"].split()[0]) + 1  # log p(x) >= ELBO, give or take MC
    assert rows["ELBO"]["AE"] == rows["NLL"]["AE"] == "–"  # an AE has no likelihood
    told = next(c.help for c in at.sidebar.caption if c.value.startswith("Test split"))
    assert "higher is better" in told and "lower is better" in told and "**NLL**" in told
