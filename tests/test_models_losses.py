import itertools

import pytest
import torch

from training.config import ModelConfig
from training.kinds import PAIR_KINDS
from training.losses import kl_to_standard_normal, loss_terms, reconstruction_nll
from training.models import FAMILIES, MODELS, build_model

SHAPES = {"mlp": (1, 16, 16), "conv": (1, 28, 28)}


@pytest.mark.parametrize("kind, family", list(itertools.product(PAIR_KINDS, FAMILIES)))
def test_every_model_has_the_one_interface(kind, family):
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind=kind, family=family, latent_dim=3, hidden=(32, 16), in_shape=SHAPES[family]))
    x = torch.rand(5, *SHAPES[family])
    posterior = model.encode(x)
    assert posterior.mean.shape == (5, 3)
    if kind == "ae":
        assert posterior.std is None and not model.is_variational
    else:
        assert posterior.std.shape == (5, 3) and bool((posterior.std > 0).all())
    images = model.decode(torch.randn(7, 3))
    assert images.shape == (7, *SHAPES[family])
    assert float(images.min()) >= 0 and float(images.max()) <= 1
    out = model(x)
    assert out.logits.shape == x.shape and out.z.shape == (5, 3)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_ae_and_vae_share_identical_bodies(family):
    shapes = {}
    for kind in PAIR_KINDS:
        model = build_model(ModelConfig(kind=kind, family=family, latent_dim=4, in_shape=SHAPES[family]))
        shapes[kind] = {k: v.shape for k, v in model.state_dict().items()}
    extra = set(shapes["vae"]) - set(shapes["ae"])
    assert extra == {"logvar_head.weight", "logvar_head.bias"}
    assert all(shapes["vae"][k] == v for k, v in shapes["ae"].items())


def test_vae_samples_while_training_and_uses_the_mean_otherwise():
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind="vae", latent_dim=2, in_shape=(1, 8, 8)))
    x = torch.rand(4, 1, 8, 8)
    model.eval()
    assert torch.equal(model(x).z, model.encode(x).mean)
    model.train()
    assert not torch.equal(model(x).z, model(x).z)


def test_kl_is_zero_at_the_prior_and_never_negative():
    zeros, ones = torch.zeros(3, 4), torch.ones(3, 4)
    assert torch.allclose(kl_to_standard_normal(zeros, ones), torch.zeros(3, 4), atol=1e-7)
    torch.manual_seed(0)
    mean, std = torch.randn(1000, 4) * 3, torch.exp(torch.randn(1000, 4))
    assert bool((kl_to_standard_normal(mean, std) >= 0).all())


def test_closed_form_kl_matches_monte_carlo():
    torch.manual_seed(0)
    mean, std = torch.tensor([0.7, -1.2]), torch.tensor([0.5, 1.8])
    q = torch.distributions.Normal(mean, std)
    p = torch.distributions.Normal(0.0, 1.0)
    z = q.sample((200_000,))
    monte_carlo = (q.log_prob(z) - p.log_prob(z)).mean(0)
    assert torch.allclose(kl_to_standard_normal(mean, std), monte_carlo, atol=0.02)


def test_reconstruction_terms():
    x = torch.tensor([[[[0.0, 1.0]]]])
    confident = torch.tensor([[[[-20.0, 20.0]]]])
    assert float(reconstruction_nll(confident, x, "bernoulli")) < 1e-6
    assert float(reconstruction_nll(torch.zeros_like(x), x, "bernoulli")) == pytest.approx(2 * 0.6931, rel=1e-3)
    worse = reconstruction_nll(torch.zeros_like(x), x, "gaussian")
    better = reconstruction_nll(confident, x, "gaussian")
    assert float(better) < float(worse)


def test_beta_weights_only_the_kl_term():
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind="vae", latent_dim=2, in_shape=(1, 8, 8)))
    x = torch.rand(6, 1, 8, 8)
    out = model(x)
    one = loss_terms(out, x, "bernoulli", beta=1.0)
    four = loss_terms(out, x, "bernoulli", beta=4.0)
    assert torch.allclose(four.total - one.total, 3 * one.kl)
    assert torch.allclose(one.total, one.reconstruction + one.kl)


@pytest.mark.parametrize("bad", [dict(latent_dim=0), dict(latent_dim=10_000), dict(kind="gan"), dict(beta=-1.0)])
def test_bad_model_configs_are_refused_with_a_message(bad):
    from training.errors import LatentExplorerError

    with pytest.raises(LatentExplorerError):
        build_model(ModelConfig(in_shape=(1, 8, 8), **bad))


def test_the_kinds_table_names_every_model_and_only_those():
    from training.kinds import KINDS, LABELS

    assert list(KINDS) == list(MODELS) and set(LABELS) == set(MODELS)
