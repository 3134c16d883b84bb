"""Posterior families and the IWAE objective (issue 28): closed-form checks, cheap."""

import math
import re

import numpy as np
import pytest
import torch

from tests.test_inference import LinearGaussian, gaussian_nll, kl_gaussians, ppca  # noqa: F401 (fixture)
from training.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from training.errors import LatentExplorerError
from training.inference import encoder_q, optimise_q
from training.losses import loss_terms
from training.models import build_model
from training.posteriors import POSTERIORS, Flow, Gaussian, make_flow

SHAPE = (1, 8, 8)


def tiny_vae(posterior: str, latent_dim: int = 2) -> torch.nn.Module:
    return build_model(ModelConfig(latent_dim=latent_dim, hidden=(16,), in_shape=SHAPE, posterior=posterior))


def randomise(module: torch.nn.Module, scale: float = 0.3) -> None:
    """Weights away from the zero initialisation, so a flow is not the identity."""
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=gen))


def test_full_q_star_is_the_ppca_posterior_and_diag_is_not(ppca):  # noqa: F811
    """Probabilistic PCA: the full-covariance q* is the true posterior (to 1e-4) and its approximation
    gap KL(q* || p(z|x)) is 0; the diagonal q* keeps a gap (mean-field cannot hold the correlation)."""
    model, x = ppca
    mean, cov = model.posterior(x)
    start = encoder_q(model, x)
    diag = optimise_q(model, x, start, nll=gaussian_nll, family="diag", steps=200, tol=1e-10)
    full = optimise_q(model, x, diag, nll=gaussian_nll, family="full", steps=200, tol=1e-10)
    assert (full.mean - mean).abs().max() < 1e-4
    assert (full.cov - cov).abs().max() < 1e-4
    full_gap = kl_gaussians(full.mean, full.cov, mean, cov.expand_as(full.cov))  # = log p(x) - ELBO(q*), exact
    diag_gap = kl_gaussians(diag.mean, diag.cov, mean, cov.expand_as(diag.cov))
    assert full_gap.abs().max() < 1e-4
    assert diag_gap.min() > 0.1  # the posterior's correlation is near -0.98: mean-field loses nats


@pytest.mark.parametrize("latent_dim", [1, 2, 3])
def test_flow_at_zero_init_is_its_base_gaussian(latent_dim):
    gen = torch.Generator().manual_seed(1)
    base = Gaussian.diagonal(torch.randn(4, latent_dim, generator=gen), torch.rand(4, latent_dim, generator=gen) + 0.2)
    q = Flow(base, torch.randn(4, 8, generator=gen), make_flow(latent_dim))
    eps = torch.randn(4, 7, latent_dim, generator=gen)
    z, log_q = q.sample_and_log_prob(eps)
    assert torch.equal(z, base.sample(eps))
    assert torch.allclose(log_q, base.log_prob_of_eps(eps), atol=1e-6)
    anywhere = 3 * torch.randn(4, 5, latent_dim, generator=gen)
    assert torch.allclose(q.log_prob(anywhere), base.log_prob(anywhere), atol=1e-5)


@pytest.mark.parametrize("latent_dim", [1, 2, 3])
def test_flow_log_det_matches_autograd_jacobian(latent_dim):
    """log|det dT/dz0| the flow reports against the Jacobian autograd computes, on random inputs and
    random weights; and log_prob (through the inverse) agrees with the sampling path."""
    layers = make_flow(latent_dim)
    randomise(layers)
    gen = torch.Generator().manual_seed(2)
    context = torch.randn(1, 8, generator=gen)
    base = Gaussian.diagonal(torch.zeros(1, latent_dim), torch.ones(1, latent_dim))
    q = Flow(base, context, layers)
    for _ in range(3):
        z0 = torch.randn(1, 1, latent_dim, generator=gen, dtype=torch.float32)
        t = q.transform()
        z, ladj = t.call_and_ladj(z0)
        jac = torch.autograd.functional.jacobian(lambda v: t(v.reshape(1, 1, -1)).reshape(-1), z0.reshape(-1))
        assert torch.allclose(ladj.reshape(()), torch.linalg.slogdet(jac)[1], atol=1e-4)
        assert not torch.allclose(z, z0)  # the randomised flow moves points
    eps = torch.randn(1, 6, latent_dim, generator=gen)
    z, log_q = q.sample_and_log_prob(eps)
    assert torch.allclose(q.log_prob(z), log_q, atol=1e-4)


def test_full_head_is_a_valid_cholesky_factor_and_its_density_is_exact():
    model = tiny_vae("full", 3)
    randomise(model)
    x = torch.rand(5, *SHAPE, generator=torch.Generator().manual_seed(3))
    q = encoder_q(model, x)
    diag = q.scale_tril.diagonal(dim1=-2, dim2=-1)
    assert (diag > 0).all() and torch.equal(q.scale_tril, q.scale_tril.tril())
    assert (q.scale_tril.tril(-1) != 0).any()  # a real full covariance, not the diagonal
    z = q.rsample(4, torch.Generator().manual_seed(4))
    truth = torch.distributions.MultivariateNormal(q.mean[:, None], scale_tril=q.scale_tril[:, None])
    assert torch.allclose(q.log_prob(z), truth.log_prob(z), atol=1e-4)
    kl = torch.distributions.kl_divergence(
        torch.distributions.MultivariateNormal(q.mean, scale_tril=q.scale_tril),
        torch.distributions.MultivariateNormal(torch.zeros(3), torch.eye(3)),
    )
    assert torch.allclose(q.kl_to_prior(), kl, atol=1e-4)


def _grads(model, loss) -> torch.Tensor:
    model.zero_grad()
    loss.backward()
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def test_iwae_with_one_draw_gives_the_elbos_gradients():
    """k = 1: the flow (whose ELBO estimates the KL at the draw) gets exactly the ELBO's gradients
    under the same noise; the diagonal VAE (closed-form KL) gets them in expectation: the mean over
    many draws of the difference is within 4 standard errors of 0 for every weight."""
    x = torch.rand(3, *SHAPE, generator=torch.Generator().manual_seed(6))
    flow = tiny_vae("flow")
    randomise(flow, 0.1)
    flow.train()
    noise = torch.randn(3, 2, generator=torch.Generator().manual_seed(7))
    elbo = _grads(flow, loss_terms(flow(x, noise=noise), x, "bernoulli", 1.0).total)
    iwae = _grads(flow, loss_terms(flow(x, noise=noise[:, None]), x, "bernoulli", 1.0).total)
    assert torch.allclose(elbo, iwae, rtol=1e-5, atol=1e-6)

    diag = tiny_vae("diag")
    diag.train()
    draws = 512
    xs = x.repeat(draws, 1, 1, 1)
    noise = torch.randn(len(xs), 2, generator=torch.Generator().manual_seed(8))
    differences = []
    for chunk in range(0, draws, 64):  # per-draw gradients, 64 draws of all 3 images at a time
        rows = slice(chunk * 3, (chunk + 64) * 3)
        closed = _grads(diag, loss_terms(diag(xs[rows], noise=noise[rows]), xs[rows], "bernoulli", 1.0).total)
        drawn = loss_terms(diag(xs[rows], noise=noise[rows, None]), xs[rows], "bernoulli", 1.0).total
        differences.append(closed - _grads(diag, drawn))
    d = torch.stack(differences)  # (8, P): means over 64 draws each
    se = d.std(0) / math.sqrt(len(d))
    assert (d.mean(0).abs() <= 4 * se + 1e-6).all()
    assert (d.abs().max() > 1e-4).item()  # not trivially equal: the KL's draw does move each estimate


def test_configs_name_the_families_and_objectives():
    assert set(POSTERIORS) == {"diag", "full", "flow"}
    for posterior in POSTERIORS:
        ModelConfig(posterior=posterior).validate()
    with pytest.raises(LatentExplorerError, match="unknown posterior"):
        ModelConfig(posterior="mixture").validate()
    with pytest.raises(LatentExplorerError, match="for the VAE"):
        ModelConfig(kind="ae", posterior="full").validate()
    with pytest.raises(LatentExplorerError, match="objective"):
        TrainConfig(objective="vr").validate()
    with pytest.raises(LatentExplorerError, match="k \\(IWAE"):
        TrainConfig(objective="iwae", iwae_k=0).validate()
    with pytest.raises(LatentExplorerError, match="beta 1"):
        RunConfig(DataConfig(), ModelConfig(beta=2.0), TrainConfig(objective="iwae")).validate()


def test_cli_refuses_an_unknown_family_in_one_line(capsys):
    from training.__main__ import main

    with pytest.raises(SystemExit) as exit_:
        main(["train", "--posterior", "mixture", "--out", "/nonexistent/never"])
    assert exit_.value.code == 2
    assert "posterior" in capsys.readouterr().err


def _saved_pair(folder, posterior: str):
    """An AE + VAE pair saved without training (weights randomised): what checkpoints need to carry."""
    from training.checkpoint import save_checkpoint

    data = DataConfig("moons", regime="sparse", image_size=8)
    models = {}
    for kind in ("ae", "vae"):
        config = RunConfig(
            data, ModelConfig(kind=kind, hidden=(16,), in_shape=SHAPE, posterior=posterior if kind == "vae" else "diag")
        )
        models[kind] = build_model(config.model)
        randomise(models[kind], 0.1)
        save_checkpoint(folder, models[kind], config)
    return models


@pytest.mark.parametrize("posterior", ["full", "flow"])
def test_checkpoints_keep_the_family_and_onnx_export_refuses_it(tmp_path, posterior):
    from training.checkpoint import load_checkpoint, read_sidecar
    from training.onnxio import export_set

    models = _saved_pair(tmp_path / "pair", posterior)
    assert read_sidecar(tmp_path / "pair" / "vae")["model"]["posterior"] == posterior
    loaded = load_checkpoint(tmp_path / "pair" / "vae").model
    x = torch.rand(4, *SHAPE, generator=torch.Generator().manual_seed(9))
    eps = torch.randn(4, 3, 2, generator=torch.Generator().manual_seed(10))
    before = encoder_q(models["vae"].eval(), x).sample(eps)
    assert torch.equal(encoder_q(loaded, x).sample(eps), before)
    with pytest.raises(LatentExplorerError, match=f"--posterior {posterior}"):
        export_set(tmp_path / "pair", tmp_path / "onnx")
    assert not (tmp_path / "onnx").exists()


def test_a_sidecar_from_before_the_families_is_a_diagonal_vae():
    from pathlib import Path

    from training.checkpoint import read_sidecar
    from training.config import ModelConfig as Model
    from training.config import from_dict

    sidecar = read_sidecar(Path(__file__).resolve().parent.parent / "checkpoints" / "digits-2d" / "vae")
    model = dict(sidecar["model"])
    model.pop("posterior", None)  # as written before the field existed
    assert from_dict(Model, model).posterior == "diag"


# run folder -> (posterior, objective, seed): a set, its three siblings under unrelated names, and "e", which
# differs in its seed (not a sibling)
VARIANTS = {"fam": ("diag", "elbo", 0), "b": ("flow", "elbo", 0), "c": ("full", "elbo", 0)}
VARIANTS |= {"d": ("diag", "iwae", 0), "e": ("full", "elbo", 1)}


def save_family_runs(root, variants: dict[str, tuple[str, str, int]]) -> None:
    """Untrained 16x16 moons pairs in root/<name>/, the VAE of each family, objective and seed given."""
    from training.checkpoint import save_checkpoint

    data = DataConfig("moons", regime="sparse", n_train=64, n_test=8, image_size=16)
    for name, (posterior, objective, seed) in variants.items():
        for kind in ("ae", "vae"):
            config = RunConfig(
                data,
                ModelConfig(
                    kind=kind, hidden=(16,), in_shape=(1, 16, 16), posterior=posterior if kind == "vae" else "diag"
                ),
                TrainConfig(objective=objective, seed=seed),
            )
            torch.manual_seed(ord(name[0]))
            save_checkpoint(root / name, build_model(config.model), config)


def test_sibling_lookup_reads_the_runs_index_not_each_sidecar(tmp_path, monkeypatch):
    """family_siblings finds a run's siblings from the runs index (written when the runs were listed):
    a process that has read no sidecar yet (as a new server) looks among many same-dataset runs without
    reading any of their sidecars, so the lookup costs the same with 1,000 runs as with 5."""
    from training import store

    extra = {f"other{i:02d}": ("diag", "elbo", 2 + i) for i in range(20)}  # same data, other seeds
    save_family_runs(tmp_path, VARIANTS | extra)
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path))
    expected = {"diag": "runs/fam", "flow": "runs/b", "full": "runs/c", "diag-iwae": "runs/d"}
    found = {name: info.id for name, info in store.family_siblings("runs/fam").items()}
    assert {name.removesuffix("50"): set_id for name, set_id in found.items()} == expected, found
    assert next(iter(found.values())) == "runs/fam"  # the asked-for set first
    # a fresh process: nothing memoised, the index file as the first one wrote it
    for memo in (store._MEMO, store._SEEN, store._SETS_MEMO):
        memo.clear()
    for cached in (store._checked_info, store._bundled_sibling_facts):
        cached.cache_clear()
    reads = []
    real = store.read_sidecar
    monkeypatch.setattr(store, "read_sidecar", lambda path: reads.append(path) or real(path))
    assert {name: info.id for name, info in store.family_siblings("runs/fam").items()} == found
    assert not [p for p in reads if tmp_path in p.parents], reads  # the bundled sets' are read once a process
    assert store.family_siblings("runs/e") == {"full": store.find_sets("pair")["runs/e"]}  # no sibling of its seed


@pytest.mark.slow
def test_inference_page_measures_each_family(tmp_path, monkeypatch):
    """A set and its siblings of another family or objective under unrelated names (untrained; found by
    what their sidecars record, not by name), beside a set that differs in its seed (not a sibling): the
    Inference page draws each family's q over its exact posterior, tabulates the pick's numbers, compares
    q* families on the same decoder, and across the split says which gap each family closes."""
    import training.families
    from tests.helpers import open_app

    save_family_runs(tmp_path, VARIANTS)
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path))
    monkeypatch.setattr(training.families, "SPLIT_N", 4)
    at = open_app("explorer/ui/pages/inference.py", dataset="moons", pair="runs/fam", pick="2")
    assert "Posterior families: which q closes which gap" in [s.value for s in at.subheader]

    def table(first_column: str, rows: int = 4):
        """The one table whose first column is this (dataframes carry no key in AppTest)."""
        found = [d.value for d in at.dataframe if d.value.columns[0] == first_column and len(d.value) == rows]
        assert len(found) == 1, [d.value.columns[0] for d in at.dataframe]
        return found[0]

    pick = table("model")
    assert list(pick["model"]) == [
        "diagonal Gaussian",
        "full-covariance Gaussian",
        "normalising flow",
        "diagonal Gaussian, IWAE-50 trained",
    ]
    # every Monte Carlo number of the pick with its standard error; the quadrature's log p(x) without
    # (a flow q* that holds this posterior leaves an s.e. that rounds to 0.00: the gaps may show it)
    for column in ("ELBO", "IWAE-50", "KL(q ‖ p(z|x))", "approximation gap", "amortisation gap"):
        assert all(re.fullmatch(r"-?\d+\.\d\d ± \d+\.\d\d", v) for v in pick[column]), (column, list(pick[column]))
    assert all(float(v.split(" ± ")[1]) > 0 for v in pick["ELBO"]), list(pick["ELBO"])
    assert not any("±" in v for v in pick["log p(x), exact"])
    assert any("standard error" in c.value for c in at.caption)
    same = table("family of q*", 3)
    assert all(re.fullmatch(r"-?\d+\.\d\d ± \d+\.\d\d", v) for v in same["ELBO(q*)"]), list(same["ELBO(q*)"])
    assert list(same["family of q*"]) == ["diagonal Gaussian", "full-covariance Gaussian", "normalising flow"]
    approx = [float(v.split(" ± ")[0]) for v in same["approximation gap"]]
    # each family starts from the smaller one's q* and keeps it unless it does better: never a larger gap
    # on one decoder beyond the fresh draws' noise
    assert approx[1] <= approx[0] + 0.01 and approx[2] <= approx[1] + 0.05, approx
    at.toggle(key="family_split").set_value(True).run(timeout=300)
    assert not at.exception and not at.error
    split = [d.value for d in at.dataframe if d.value.columns[0] == "model" and "±" in str(d.value["ELBO"][0])][0]
    assert all("±" in v for v in split["ELBO"])
    sentence = next(m.value for m in at.markdown if "approximation gap" in m.value and "nats" in m.value)
    # one clause per family and part of the gap
    assert sentence.count("approximation gap") == 3 and sentence.count("amortisation gap") == 3


class Banana(torch.nn.Module):
    """x ~ N((z0, z1 - z0^2), diag(2^2, 0.1^2)): at x = 0 the posterior is the curve z1 = z0^2, which no
    Gaussian holds and one affine autoregressive layer (z1 given z0) holds exactly."""

    latent_dim = 2
    sigma = torch.tensor([2.0, 0.1])

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return torch.stack([z[:, 0], z[:, 1] - z[:, 0] ** 2], 1).reshape(-1, 1, 1, 2)

    def nll(self, mean: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        scaled = (mean - x).flatten(1) / self.sigma
        return (0.5 * scaled**2 + torch.log(self.sigma * math.sqrt(2 * math.pi))).sum(1)


def test_a_flow_q_star_of_its_own_holds_a_curved_posterior():
    """fit_flow_q (any decoder's flow q*, from the full-covariance q*): on the banana it beats the best
    full-covariance Gaussian by nats on fresh draws, and stays a bound (below the exact log p(x))."""
    from training.inference import bounds, exact_log_px, fit_flow_q

    model, x = Banana(), torch.zeros(1, 1, 1, 2)
    start = Gaussian.diagonal(torch.zeros(1, 2), torch.ones(1, 2))
    full = optimise_q(model, x, start, nll=model.nll, family="full")
    (flow,) = fit_flow_q(model, x, full, nll=model.nll)
    assert isinstance(flow, Flow)
    judged = [bounds(model, x, q, nll=model.nll, n_samples=4000, ks=(), seed=3) for q in (full, flow)]
    log_px = float(exact_log_px(model, x, nll=model.nll).log_px[0])
    gain = float(judged[1].elbo - judged[0].elbo)
    assert gain > 0.2, gain  # 0.38 nats measured
    assert float(judged[1].elbo) < log_px + 3 * float(judged[1].elbo_se)


def test_the_families_report_is_what_its_generator_writes_from_its_json():
    """lab/families/results.md: every number from results.json (python -m training families wrote both)."""
    import json
    from pathlib import Path

    from training.families import results_markdown

    folder = Path(__file__).resolve().parent.parent / "lab" / "families"
    results = json.loads((folder / "results.json").read_text())
    assert (folder / "results.md").read_text() == results_markdown(results)
    assert set(results["pairs"]) == {"moons-sparse-2d", "digits-2d"}


def test_the_chinese_readme_shows_the_english_readme_s_family_numbers():
    """README.zh-CN.md's families block (issue 28) carries every number of README.md's, in the same order,
    and no English sentence of it (tests/test_report.py checks each block is what the report writes)."""
    from pathlib import Path

    from training.report import blocks

    root = Path(__file__).resolve().parent.parent
    english = blocks((root / "README.md").read_text())["families"]
    chinese = blocks((root / "README.zh-CN.md").read_text())["families-zh"]
    numbers = re.compile(r"[+-]?\d+(?:\.\d+)?")
    assert numbers.findall(chinese) == numbers.findall(english) and len(numbers.findall(english)) > 50
    for english_words in ("no clear difference", "approximation gap", "Retrained", "nats"):
        assert english_words in english and english_words not in chinese


@pytest.mark.parametrize("args", [["--n", "1"], ["--pairs", "no-such-pair", "--n", "2"]])
def test_the_families_command_refuses_bad_arguments_in_one_line(args, tmp_path, capsys):
    from training.__main__ import main

    assert main(["families", *args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert not (tmp_path / "out").exists()  # nothing written


def test_each_family_number_s_e_is_the_spread_over_seeds():
    """The families table's standard errors (ELBO, IWAE-50, q*'s ELBO and the gaps) predict how much each
    number moves on other draws: over 12 seeds the spread per image lies within a factor 2 of the reported
    s.e. (root mean square; a std from 12 draws is within about +/-45 % at 2 sigma). Exact log p(x) is
    reused, q* found once per seed (deterministic), so only the draws change."""
    from training.families import family_numbers
    from training.inference import exact_log_px

    model = tiny_vae("diag")
    randomise(model)
    x = torch.rand((3, *SHAPE), generator=torch.Generator().manual_seed(2))
    log_px = exact_log_px(model, x).log_px.numpy().astype(float)
    runs = [family_numbers(model, x, seed=s, log_px=log_px)[0] for s in range(12)]
    for field in ("elbo", "iwae", "elbo_star", "kl_posterior", "approximation", "amortisation"):
        values = torch.tensor(np.stack([getattr(r, field) for r in runs]))
        reported = torch.tensor(np.stack([getattr(r, f"{field}_se") for r in runs])).pow(2).mean(0).sqrt()
        assert (reported > 0).all(), field
        ratio = values.std(0) / reported
        assert ((ratio > 0.5) & (ratio < 2)).all(), (field, ratio)


def test_a_full_covariance_model_s_own_q_star_is_full_covariance():
    """family_numbers without a family takes the model's own: for a full-covariance VAE its q* has a free
    off-diagonal (optimise_q on a full Gaussian start without a family searched the diagonal ones only), so
    its ELBO on the same Gauss-Hermite objective is at least the diagonal q*'s."""
    from training.families import family_numbers

    model = tiny_vae("full")
    randomise(model)
    x = torch.rand((2, *SHAPE), generator=torch.Generator().manual_seed(3))
    log_px = np.zeros(2)
    own = family_numbers(model, x, log_px=log_px)[1]
    diag = family_numbers(model, x, "diag", log_px=log_px)[1]
    assert own.scale_tril[:, 1, 0].abs().min() > 1e-3
    assert diag.scale_tril[:, 1, 0].abs().max() == 0


@pytest.mark.parametrize("posterior", ["diag", "flow"])
def test_the_pages_pick_is_its_analysis_and_its_family_panel_computed_once(posterior):
    """analyse_pick (the Inference page's one request for its own set) gives the same numbers as the
    family panel computed on its own, and its q*'s ELBO is the panel's own-family q*'s."""
    from explorer.inference import analyse_pick, family_panel

    model = tiny_vae(posterior)
    randomise(model, 0.1)
    x = torch.rand((1, *SHAPE), generator=torch.Generator().manual_seed(4))
    image, panel = analyse_pick(model, x, n_heat=40)
    alone = family_panel(model, x, n=40)[0]
    for field in ("log_px", "elbo", "elbo_se", "iwae", "elbo_star", "elbo_star_se"):
        assert np.array_equal(getattr(panel.numbers, field), getattr(alone.numbers, field)), field
    assert np.array_equal(panel.density, alone.density) and np.array_equal(panel.lo, alone.lo)
    assert image.elbo_star == float(panel.numbers.elbo_star[0]) and image.log_px == float(panel.numbers.log_px[0])
    assert image.density is panel.density
    assert (panel.q_density is None) == (posterior != "flow")
