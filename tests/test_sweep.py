"""The beta sweep and the rate-distortion plane (training/sweep.py, figures.rate_distortion)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from training.__main__ import main
from training.config import ModelConfig, SweepConfig
from training.errors import LatentExplorerError
from training.losses import loss_terms
from training.metrics import Budget, elbo_and_iwae
from training.models import build_model
from training.sweep import BUNDLED, by_beta, results_markdown, run_sweep, summary_table

ROOT = Path(__file__).resolve().parent.parent


def tiny_vae(beta: float = 1.0):
    torch.manual_seed(0)
    return build_model(ModelConfig(latent_dim=3, hidden=(16,), beta=beta, in_shape=(1, 8, 8))).eval()


def test_rate_and_distortion_are_the_elbos_terms_computed_directly():
    model, x = tiny_vae(), torch.rand(5, 1, 8, 8)
    m = elbo_and_iwae(model, x, Budget(elbo_samples=40, n_images=5, iwae_k=4), seed=3)  # every image
    with torch.no_grad():
        q = model.encode(x)
        mu, sd = q.mean.double(), q.std.double()
        rate = (0.5 * (mu**2 + sd**2 - 1) - sd.log()).sum(1).mean()  # KL(N(mu, sd^2) || N(0, I)), closed form
        eps = torch.randn((5, 40, 3), generator=torch.Generator().manual_seed(3))  # the draws bounds() makes
        z = (q.mean[:, None] + q.std[:, None] * eps).reshape(-1, 3)
        p = torch.sigmoid(model.decode_logits(z).double()).reshape(5, 40, -1)
        target = x.double().reshape(5, 1, -1)
        distortion = -(target * p.log() + (1 - target) * (1 - p).log()).sum(-1).mean()
    assert m["rate"] == pytest.approx(float(rate), rel=1e-4) and m["rate"] > 0
    assert m["distortion"] == pytest.approx(float(distortion), rel=1e-4)
    assert m["elbo"] == pytest.approx(-(m["rate"] + m["distortion"]), rel=1e-6)
    assert "elbo_kl" not in m  # one name for one number


def test_a_sidecar_from_before_the_plane_reads_its_elbo_kl_as_the_rate(tmp_path):
    """Sidecars saved before the β plane held the ELBO's KL as elbo_kl (the bundled ones do): read, it is rate."""
    import shutil

    from training.checkpoint import read_sidecar

    for name in ("vae.json", "vae.safetensors"):
        shutil.copy(ROOT / "checkpoints" / "moons-sparse-2d" / name, tmp_path / name)
    sidecar = json.loads((tmp_path / "vae.json").read_text())
    sidecar["metrics"] = {k: v for k, v in sidecar["metrics"].items() if k not in ("rate", "distortion")}
    sidecar["metrics"]["elbo_kl"] = 3.25
    (tmp_path / "vae.json").write_text(json.dumps(sidecar))
    metrics = read_sidecar(tmp_path / "vae")["metrics"]
    assert metrics["rate"] == 3.25 and "elbo_kl" not in metrics


@pytest.mark.parametrize("beta", [1.0, 4.0])
def test_at_beta_one_the_training_loss_is_rate_plus_distortion_and_not_otherwise(beta):
    model, x = tiny_vae(beta), torch.rand(6, 1, 8, 8)
    torch.manual_seed(1)
    with torch.no_grad():
        out = model(x)  # one draw of z per image, as in training
        terms = loss_terms(out, x, "bernoulli", beta)
    rate = float((0.5 * (out.posterior.mean**2 + out.posterior.std**2 - 1) - out.posterior.std.log()).sum(1).mean())
    assert float(terms.kl) == pytest.approx(rate, rel=1e-5)
    negative_elbo = float(terms.reconstruction) + rate  # R + D of this draw: -ELBO
    assert (float(terms.total) == pytest.approx(negative_elbo, rel=1e-6)) == (beta == 1.0)


SMALL = SweepConfig(betas=(0.5, 1.0), seeds=1, dataset="digits", latent_dim=3, hidden=(16,), epochs=1, n_train=200)


@pytest.mark.slow  # two tiny VAEs trained and measured (~10 s)
def test_a_sweep_resumes_reading_finished_runs_and_refuses_a_folder_of_other_settings(tmp_path):
    first = run_sweep(SMALL, tmp_path, log=lambda _: None)
    assert first["trained_now"] == 2
    weights = tmp_path / "runs" / "b0.5-s0" / "vae.safetensors"
    stamp = weights.stat().st_mtime_ns
    again = run_sweep(SMALL, tmp_path, log=lambda _: None)
    assert again["trained_now"] == 0 and again["runs"] == first["runs"] and weights.stat().st_mtime_ns == stamp
    r = first["runs"][0]
    assert r["elbo"] == pytest.approx(-(r["rate"] + r["distortion"]), rel=1e-6) and r["active_units"] <= 3
    # the markdown is a function of the json alone
    saved = json.loads((tmp_path / "results.json").read_text())
    assert results_markdown(saved) == (tmp_path / "results.md").read_text()
    other = SweepConfig(**{**SMALL.__dict__, "epochs": 2})
    with pytest.raises(LatentExplorerError, match="other settings"):
        run_sweep(other, tmp_path, log=lambda _: None)
    assert weights.stat().st_mtime_ns == stamp


@pytest.mark.parametrize(
    "args, said",
    [
        (["--beta", "1,x"], "comma-separated numbers"),
        (["--beta", "1,1"], "must differ"),
        (["--beta", "0"], "above 0"),
        (["--beta", "nan"], "above 0"),
        (["--beta", ",".join(str(b) for b in range(1, 18))], "1 to 16 values"),
        (["--seeds", "0"], "--seeds must be 1 to 20"),
        (["--seeds", "21"], "--seeds must be 1 to 20"),
        (["--dataset", "npz"], "needs --data"),
        (["--dataset", "nope"], "unknown dataset"),
        (["--epochs", "0"], "epochs must be"),
        (["--latent-dim", "0"], "latent size"),
        (["--out", "checkpoints/beta"], "checkpoints"),
    ],
)
def test_bad_sweep_arguments_are_refused_in_one_line_before_training(args, said, capsys, tmp_path):
    out = ["--out", str(tmp_path / "out")] if "--out" not in args else []
    assert main(["sweep", *args, *out]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and said in err and err.startswith("error:")
    assert not (tmp_path / "out").exists()


def test_the_committed_sweep_report_is_what_the_code_writes_from_its_json():
    results = json.loads((BUNDLED / "results.json").read_text())
    assert (BUNDLED / "results.md").read_text() == results_markdown(results)
    config = results["config"]
    assert len(results["runs"]) == len(config["betas"]) * config["seeds"] and 1.0 in config["betas"]
    for r in results["runs"]:
        assert r["elbo"] == pytest.approx(-(r["rate"] + r["distortion"]), rel=1e-5)
    # the README's block is this table
    from training.report import blocks

    assert "\n".join(summary_table(results)) in blocks((ROOT / "README.md").read_text())["beta"]


def rows(beta: float, rates, distortions, active=(2, 3)):
    return [
        {"beta": beta, "rate": r, "distortion": d, "active_units": a, "latent_dim": 4, "run": f"b{beta}-s{i}"}
        for i, (r, d, a) in enumerate(zip(rates, distortions, active))
    ]


def test_the_plane_draws_seed_intervals_equal_elbo_lines_active_units_and_the_beta_one_star():
    from functools import partial

    from explorer import figures
    from explorer.i18n import tr

    found = by_beta(rows(4.0, [1.0, 2.0], [30.0, 32.0]) + rows(1.0, [5.0, 6.0], [20.0, 21.0], (3, 4)))
    assert [s.beta for s in found] == [1.0, 4.0]
    fig = figures.rate_distortion({"sweep": found}, t=partial(tr, "zh"))
    means = next(t for t in fig.data if t.name == "sweep")
    assert list(means.x) == [5.5, 1.5] and list(means.y) == [20.5, 31.0]
    half = 12.706 * np.std([5.0, 6.0], ddof=1) / np.sqrt(2)  # t(0.975, 1 dof) x s.e. of the two seeds
    assert means.error_x.array[0] == pytest.approx(half, rel=1e-3)
    assert "3.5/4" in means.text[0] and "β 4" in means.text[1]
    star = next(t for t in fig.data if t.marker.symbol == "star")
    assert (list(star.x), list(star.y)) == ([5.5], [20.5])
    lines = next(t for t in fig.data if t.line.dash == "dash")
    x, y = np.array(lines.x, dtype=float), np.array(lines.y, dtype=float)
    sums = (x + y)[~np.isnan(x)].reshape(-1, 2)
    assert np.allclose(sums[:, 0], sums[:, 1]) and len(sums) >= 3  # each line: R + D constant
    assert sums.min() <= 25.0 and sums.max() >= 33.0  # spanning every seed's -ELBO
    assert fig.layout.xaxis.title.text.startswith("码率") and fig.layout.margin.t >= figures.MODEBAR_CLEARANCE
