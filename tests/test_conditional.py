"""Conditional VAE and its regression baseline: conditioning, losses, the blur argument, page."""

import json
from pathlib import Path

import pytest
import torch

from tests.helpers import open_app, run_cli
from training.checkpoint import load_checkpoint
from training.conditions import MASKS, half_condition, half_mask, label_condition, random_masks
from training.config import DataConfig, ModelConfig
from training.datasets import load_dataset
from training.errors import LatentExplorerError
from training.losses import loss_terms
from training.metrics import completion_metrics
from training.models import build_model

ROOT = Path(__file__).resolve().parent.parent
LABEL, HALF = ROOT / "checkpoints" / "digits-label-cvae", ROOT / "checkpoints" / "digits-half-cvae"
PAGE = "explorer/ui/pages/conditional.py"


def test_label_and_z_each_change_the_image():
    cvae = load_checkpoint(LABEL / "cvae").model
    z = torch.randn(1, cvae.latent_dim, generator=torch.Generator().manual_seed(0))
    three = cvae.decode(z, label_condition(torch.tensor([3]), 10))
    eight = cvae.decode(z, label_condition(torch.tensor([8]), 10))
    assert (three - eight).abs().mean() > 0.05  # the label moves the image at a fixed z
    other_z = cvae.decode(
        torch.randn(1, cvae.latent_dim, generator=torch.Generator().manual_seed(1)),
        label_condition(torch.tensor([3]), 10),
    )
    assert (three - other_z).abs().mean() > 0.01  # and z moves it at a fixed label


def test_masks_cover_complementary_halves():
    shape = (1, 8, 8)
    top, bottom, left, right = (half_mask(k, shape) for k in MASKS)
    assert torch.equal(top + bottom, torch.ones(shape)) and torch.equal(left + right, torch.ones(shape))
    assert top.sum() == 32
    x = torch.rand(3, *shape)
    c = half_condition(x, top.expand_as(x))
    assert c.shape == (3, 128) and torch.equal(c[:, 32:64], torch.zeros(3, 32))  # bottom rows hidden
    assert set(random_masks(50, shape, torch.Generator().manual_seed(0)).sum((1, 2, 3)).tolist()) == {32.0}


def test_cvae_loss_terms_are_those_of_a_vae():
    torch.manual_seed(0)
    cvae = build_model(ModelConfig(kind="cvae", condition="label", n_classes=4, latent_dim=3, in_shape=(1, 8, 8)))
    x, c = torch.rand(5, 1, 8, 8), label_condition(torch.tensor([0, 1, 2, 3, 0]), 4)
    out = cvae(x, c)
    terms = loss_terms(out, x, "bernoulli", beta=2.0)
    assert torch.allclose(terms.total, terms.reconstruction + 2.0 * terms.kl)
    assert float(terms.kl) > 0
    regression = build_model(
        ModelConfig(kind="regression", condition="label", n_classes=4, latent_dim=3, in_shape=(1, 8, 8))
    )
    reg_terms = loss_terms(regression(x, c), x, "bernoulli", beta=1.0)
    assert float(reg_terms.kl) == 0 and torch.allclose(reg_terms.total, reg_terms.reconstruction)


def test_regression_shares_the_decoder_body():
    config = dict(condition="half", latent_dim=4, hidden=(32, 16), in_shape=(1, 8, 8))
    cvae = build_model(ModelConfig(kind="cvae", **config))
    regression = build_model(ModelConfig(kind="regression", **config))
    cvae_shapes = [p.shape for n, p in cvae.decoder.named_parameters()]
    reg_shapes = [p.shape for n, p in regression.decoder.named_parameters()]
    assert cvae_shapes[1:] == reg_shapes[1:]  # all but the first layer, which also takes z
    assert cvae_shapes[0][1] == reg_shapes[0][1] + 4


@pytest.fixture(scope="module")
def half_set():
    cvae, regression = load_checkpoint(HALF / "cvae").model, load_checkpoint(HALF / "regression").model
    data = load_dataset(DataConfig("digits"))
    return cvae, regression, completion_metrics(cvae, regression, data.test.x[:200], n_samples=8)


def test_the_blur_argument_measured(half_set):
    _, _, m = half_set
    # The regression's single completion sits closer to the average of the CVAE's samples than a
    # typical sample does to the average of the others (leave-one-out): it paints the average.
    assert m["regression_to_sample_mean"] < m["sample_to_others_mean"]
    # leave-one-out, exactly: |s_i - mean of the rest|^2 averages S/(S-1) times the samples' variance
    s = m["n_samples"]
    assert m["sample_to_others_mean"] == pytest.approx(m["sample_variance"] * s / (s - 1), rel=1e-4)
    low, high = m["sharpness_difference_low"], m["sharpness_difference_high"]
    assert low < m["sharpness_difference"] < high
    assert m["sharpness_difference"] == pytest.approx(m["sharpness_cvae"] - m["sharpness_regression"], abs=1e-6)
    assert m["cvae_best_of_n_error"] < m["regression_error"]  # some sample beats the average guess
    assert m["cvae_diversity"] > 0.005


def test_visible_half_reconstruction_is_measured(half_set):
    _, _, m = half_set
    assert 0 < m["cvae_visible_error"] < m["cvae_mean_error"]  # the given half is easier than the missing one


def test_cvae_from_the_command_line(tmp_path):
    done = run_cli(
        "train",
        "--dataset",
        "digits",
        "--model",
        "cvae",
        "--condition",
        "half",
        "--latent-dim",
        "2",
        "--hidden",
        "32",
        "--epochs",
        "2",
        "--quiet",
        "--out",
        str(tmp_path / "c"),
    )
    assert done.returncode == 0, done.stderr
    assert {p.name for p in (tmp_path / "c").iterdir()} == {
        "cvae.json",
        "cvae.safetensors",
        "regression.json",
        "regression.safetensors",
    }
    ev = run_cli("eval", str(tmp_path / "c"), "--json")
    assert ev.returncode == 0, ev.stderr
    result = json.loads(ev.stdout)
    assert result["condition"] == "half" and result["completion"]["n_samples"] == 8
    assert "cvae_visible_error" in result["completion"]
    bad = run_cli("train", "--dataset", "digits", "--model", "cvae", "--out", str(tmp_path / "d"))
    assert bad.returncode == 2 and "--condition" in bad.stderr


def test_label_condition_needs_labels():
    from training.config import RunConfig, TrainConfig
    from training.fit import fit

    config = RunConfig(
        DataConfig("moons", n_train=64, n_test=16, image_size=8),
        ModelConfig(kind="cvae", condition="label", latent_dim=2),
        TrainConfig(epochs=1),
    )
    with pytest.raises(LatentExplorerError, match="needs labelled data"):
        fit(config, progress_bar=False)


@pytest.mark.slow  # 10 s of AppTest; runs in make test
def test_conditional_page_draws_classes_and_fills_halves():
    at = open_app(PAGE)
    assert at.title[0].value == "Conditional VAE"
    grid = [im for im in at.image if any("32 CVAE samples of class 0" in c for c in im.captions)]
    assert len(grid) == 1
    at.selectbox(key="cond_class").set_value(7).run()
    assert any("32 CVAE samples of class 7" in c for im in at.image for c in im.captions)
    before = [im.value for im in at.image]
    at.slider(key="cz0").set_value(2.0).run()
    assert [im.value for im in at.image] != before  # style moves with z, class fixed
    strips = [im for im in at.image if len(im.value) == 8]
    assert strips, "8 CVAE completions"
    at.radio(key="cond_mask").set_value("left").run()
    at.slider(key="cond_n").set_value(4).run()
    assert not at.exception
    assert any(len(im.value) == 4 for im in at.image)
    assert any("regression: MSE" in c for im in at.image for c in im.captions)
