"""Half-moon metrics, each checked on a case whose answer is known."""

import json
import os

import numpy as np
import pytest
import torch

from explorer import latents, verdict
from tests.helpers import run_cli
from training import moons
from training.bank import manifold_distance, moon_bank, training_bank
from training.config import ModelConfig
from training.geometry import hole_map, plane_through
from training.metrics import path_scores, prior_validity, smoothness
from training.models import Autoencoder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def bank():
    return moon_bank(28)


def test_bank_is_dense(bank):
    assert len(bank.images) >= 1000 and not bank.is_proxy


def test_true_renders_are_on_the_manifold_and_recover_their_phase(bank):
    phases = np.random.default_rng(0).uniform(0.05, 0.95, 50)
    dist, recovered = manifold_distance(moons.render(phases), bank)
    assert dist.max() < 1e-4
    assert moons.circular_distance(recovered, phases).max() <= 0.01


def test_a_pixel_average_scores_clearly_worse_than_a_true_half_moon(bank):
    average = (moons.render(0.1) + moons.render(0.5)) / 2
    half = moons.render(0.25)
    d_avg, _ = manifold_distance(average[None], bank)
    d_half, p_half = manifold_distance(half[None], bank)
    assert d_avg[0] > 100 * max(d_half[0], 1e-6) and d_avg[0] > bank.radius.max()
    assert p_half[0] == pytest.approx(0.25, abs=0.005)


def test_smoothness_is_zero_for_even_steps_and_near_one_for_a_jump():
    assert smoothness(np.linspace(0.1, 0.5, 11)) == pytest.approx(0.0, abs=1e-9)
    jump = np.array([0.1] * 5 + [0.5] * 6)
    assert smoothness(jump) == pytest.approx(0.9)
    assert smoothness(np.linspace(0.9, 1.1, 11) % 1.0) == pytest.approx(0.0, abs=1e-9)  # across new moon


def test_path_scores_of_a_true_path_and_of_a_cross_fade(bank):
    phases = np.linspace(0.1, 0.5, 11)
    true = path_scores(moons.render(phases), bank)
    assert true["mean_distance"] < 1e-4 and true["smoothness"] < 0.05 and true["passes_half_moon"]
    t = np.linspace(0, 1, 11)[:, None, None]
    fade = (1 - t) * moons.render(0.1) + t * moons.render(0.5)
    faded = path_scores(fade, bank)
    assert faded["mean_distance"] > 50 * true["mean_distance"]
    assert not faded["passes_half_moon"]


class ConstantDecoder(Autoencoder):
    """Decodes every code to one true render: no holes anywhere."""

    def __init__(self, image):
        super().__init__(ModelConfig(kind="ae", latent_dim=2, hidden=(4,), in_shape=(1, 28, 28)))
        self.image = torch.from_numpy(image)

    def decode(self, z):
        return self.image.expand(len(z), 1, 28, 28)


def test_a_decoder_of_one_true_render_has_a_hole_map_of_zeros(bank):
    model = ConstantDecoder(moons.render(0.3))
    grid = latents.plane_grid(np.array([-3.0, -3.0]), np.array([3.0, 3.0]), 16)
    distances = hole_map(model, bank, grid, n=16)
    assert distances.shape == (16, 16)
    assert np.abs(distances).max() < 1e-5
    assert prior_validity(model, bank, np.zeros((10, 2))) < 1e-5


def test_plane_through_two_codes():
    a, b = np.array([1.0, 0, 0, 0]), np.array([3.0, 2, 0, 0])
    origin, e1, e2 = plane_through(a, b)
    assert np.allclose(origin - e1, a) and np.allclose(origin + e1, b)
    assert abs(e1 @ e2) < 1e-9 and np.linalg.norm(e2) == pytest.approx(np.linalg.norm(e1))
    grid = latents.hole_grid(np.zeros((3, 4)), a, b, n=5)
    assert grid.codes.shape == (25, 4)
    assert np.allclose(latents.plane_coordinates(np.stack([a, b]), a, b), [[-1, 0], [1, 0]], atol=1e-6)


def test_proxy_bank_uses_training_images():
    x = torch.rand(30, 1, 8, 8)
    proxy = training_bank(x)
    assert proxy.is_proxy and "proxy" in proxy.description
    dist, phases = manifold_distance(x[:3].numpy(), proxy)
    assert phases is None and np.allclose(dist, 0, atol=1e-6)


def test_verdicts_follow_the_numbers():
    assert "VAE's path stays 4.0x closer" in verdict.path_verdict(0.04, 0.01, proxy=False)
    assert "AE's path stays 2.0x closer" in verdict.path_verdict(0.01, 0.02, proxy=False)
    assert "about equally" in verdict.path_verdict(0.0100, 0.0105, proxy=True)
    assert "the AE's are 3.0x closer" in verdict.prior_verdict(0.03, 0.01, 0.05)
    assert "the same within 10%" in verdict.prior_verdict(0.0100, 0.0104, 0.05)  # not "1.0x closer"
    assert "worst point AE 0.0200, VAE 0.0300" in verdict.path_verdict(0.01, 0.01, False, worst=(0.02, 0.03))
    assert (
        verdict.half_moon_verdict({"AE": False, "VAE": True}) == "Only the VAE's path passes through a real half moon."
    )


@pytest.mark.slow
def test_lab_command_end_to_end_on_a_tiny_configuration(tmp_path):
    out = tmp_path / "lab"
    done = run_cli(
        "lab",
        "--regimes",
        "sparse,full",
        "--latent-dims",
        "2,3",
        "--seeds",
        "2",
        "--epochs",
        "2",
        "--n-train",
        "128",
        "--n-test",
        "40",
        "--image-size",
        "16",
        "--hidden",
        "16",
        "--headline",
        "sparse-3",
        "--headline-seeds",
        "3",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    results = json.loads((out / "results.json").read_text())
    assert len(results["cells"]) == 2 * 2 * 2  # regimes x latent sizes x models
    cell = results["cells"][0]
    assert len(cell["per_seed"]) == 2
    assert [len(c["per_seed"]) for c in results["cells"] if c["latent_dim"] == 3] == [3, 3, 2, 2]  # sparse-3: 3 seeds
    assert set(results["phase_curves"]) == {"sparse", "full"}  # the 2-D VAEs' density over phase
    assert len(results["phase_curves"]["full"]["seeds"]) == 2
    for key in (
        "recon_mse",
        "c2f_mean_distance",
        "c2f_smoothness",
        "random_mean_distance",
        "prior_standard",
        "prior_fitted",
    ):
        values = [s[key] for s in cell["per_seed"]]
        assert cell["summary"][key]["mean"] == pytest.approx(np.mean(values))
        assert cell["summary"][key]["std"] == pytest.approx(np.std(values))
    table = (out / "results.md").read_text()
    assert "| sparse | 3 | VAE |" in table and "AE / VAE ratios" in table
    assert len(list((out / "runs").iterdir())) == 2 * 2 * 2 + 1  # regimes x dims x seeds pairs, + sparse-3 s2


def test_lab_refuses_unknown_regimes(tmp_path):
    done = run_cli("lab", "--regimes", "crescent", "--out", str(tmp_path))
    assert done.returncode == 2 and "regimes must be among full, gap, sparse" in done.stderr
