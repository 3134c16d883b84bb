"""AE and VAE with identical encoder and decoder bodies, behind one interface.

    encode(x) -> Posterior(mean, std)    # AE: std is None (a point, not a distribution)
    decode(z) -> images in [0, 1]        # (B, C, H, W)
    forward(x) -> Output(logits, z, posterior)

The models know nothing of data loading or training: see fit.py for that.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, NamedTuple, Protocol

import torch
from torch import nn

from .errors import LatentExplorerError
from .posteriors import LOGVAR_RANGE, Flow, Gaussian, extra_heads, q_from_features

if TYPE_CHECKING:  # annotations only: config imports no registry, the registries no config
    from .config import ModelConfig


class Posterior(NamedTuple):
    mean: torch.Tensor  # (B, D); a flow's: T(base mean), the code of the picture
    std: torch.Tensor | None  # (B, D) marginal std (a flow's: its base's); None for the AE
    q: Gaussian | Flow | None = None  # the whole q of a full or flow VAE; None: N(mean, diag(std^2))


class Output(NamedTuple):
    logits: torch.Tensor  # (B, C, H, W): decoder output before the sigmoid; (B*K, C, H, W) for K draws each
    z: torch.Tensor  # (B, D): the code that was decoded; (B, K, D) for K draws each (IWAE)
    posterior: Posterior
    log_q: torch.Tensor | None = None  # (B,) or (B, K): log q(z) at z, where the loss needs it (flow, IWAE)


def family_q(posterior: Posterior) -> Gaussian | Flow:
    """The q a posterior stands for, whatever its family."""
    return posterior.q if posterior.q is not None else Gaussian.diagonal(posterior.mean, posterior.std)


class UnconditionalModel(Protocol):
    """What explorer/ talks to: AE and VAE (and any model added to MODELS beside them)."""

    latent_dim: int
    is_variational: bool

    def encode(self, x: torch.Tensor) -> Posterior: ...  # (B, C, H, W) -> (B, D)
    def decode(self, z: torch.Tensor) -> torch.Tensor: ...  # (B, D) -> (B, C, H, W) in [0, 1]


class ConditionalModel(Protocol):
    """The CVAE: the same, given a condition c of shape (B, condition_width)."""

    latent_dim: int
    is_variational: bool

    def encode(self, x: torch.Tensor, c: torch.Tensor) -> Posterior: ...
    def decode(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor: ...


# --- bodies: features <-> images, shared by AE and VAE ---------------------------------------


def mlp_encoder(config: ModelConfig, extra_in: int = 0) -> tuple[nn.Module, int]:
    """Image (flattened, plus extra_in condition features for a CVAE) -> features."""
    c, h, w = config.in_shape
    layers: list[nn.Module] = [nn.Flatten()]
    width = c * h * w + extra_in
    for hidden in config.hidden:
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    return nn.Sequential(*layers), width


def mlp_decoder(config: ModelConfig, extra_in: int = 0, latent_in: int | None = None) -> nn.Module:
    """Code (plus extra_in condition features) -> image logits. Mirror of the encoder; plain
    Linear/ReLU so the browser can run it too (drag to decode)."""
    c, h, w = config.in_shape
    layers: list[nn.Module] = []
    width = (config.latent_dim if latent_in is None else latent_in) + extra_in
    for hidden in reversed(config.hidden):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers += [nn.Linear(width, c * h * w), nn.Unflatten(1, (c, h, w))]
    return nn.Sequential(*layers)


def conv_channels(config: ModelConfig) -> tuple[int, int]:
    """The conv family's two stride-2 layers halve each side twice: check what that needs."""
    if len(config.channels) != 2 or any(ch < 1 for ch in config.channels):
        raise LatentExplorerError(
            f"the conv family needs exactly 2 positive channel counts, got {config.channels}",
            key="err_model_conv_family_needs",
            channels=config.channels,
        )
    if config.in_shape is not None and (config.in_shape[1] % 4 or config.in_shape[2] % 4):
        h, w = config.in_shape[1:]
        raise LatentExplorerError(
            f"the conv family needs sides divisible by 4 (28, 32); got {h}x{w}: use --family mlp",
            key="err_model_conv_family_needs2",
            h=h,
            w=w,
        )
    return config.channels


def conv_encoder(config: ModelConfig) -> tuple[nn.Module, int]:
    c, h, w = config.in_shape
    c1, c2 = conv_channels(config)
    feature = config.hidden[0]
    body = nn.Sequential(
        nn.Conv2d(c, c1, 4, stride=2, padding=1),
        nn.ReLU(),  # (B, c1, H/2, W/2)
        nn.Conv2d(c1, c2, 4, stride=2, padding=1),
        nn.ReLU(),  # (B, c2, H/4, W/4)
        nn.Flatten(),
        nn.Linear(c2 * (h // 4) * (w // 4), feature),
        nn.ReLU(),
    )
    return body, feature


def conv_decoder(config: ModelConfig) -> nn.Module:
    c, h, w = config.in_shape
    c1, c2 = conv_channels(config)
    feature = config.hidden[0]
    return nn.Sequential(
        nn.Linear(config.latent_dim, feature),
        nn.ReLU(),
        nn.Linear(feature, c2 * (h // 4) * (w // 4)),
        nn.ReLU(),
        nn.Unflatten(1, (c2, h // 4, w // 4)),
        nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1),
        nn.ReLU(),  # (B, c1, H/2, W/2)
        nn.ConvTranspose2d(c1, c, 4, stride=2, padding=1),  # (B, C, H, W)
    )


class Family(NamedTuple):
    encoder: Callable[[ModelConfig], tuple[nn.Module, int]]  # -> (body, feature width)
    decoder: Callable[[ModelConfig], nn.Module]
    check: Callable[[ModelConfig], object] | None = None  # raises LatentExplorerError on a config it cannot build


FAMILIES = {"mlp": Family(mlp_encoder, mlp_decoder), "conv": Family(conv_encoder, conv_decoder, conv_channels)}


# --- the Gaussian posterior shared by VAE and CVAE -----------------------------------------------


def gaussian_posterior(h: torch.Tensor, mean_head: nn.Linear, logvar_head: nn.Linear) -> Posterior:
    """q(z|x) = N(mean, diag(std^2)) from (B, features); logvar clamped so exp() stays finite."""
    logvar = logvar_head(h).clamp(*LOGVAR_RANGE)
    return Posterior(mean_head(h), torch.exp(0.5 * logvar))


def reparameterise(posterior: Posterior, sample: bool, noise: torch.Tensor | None = None) -> torch.Tensor:
    """z = mean + std * eps, eps ~ N(0, I) (Kingma & Welling 2014, eq. 10), or the mean when not sampling
    or std is None. noise: the (B, D) eps to use (fit() passes it so each torchrun rank gives a sample the
    noise it would get in one process); None draws it here."""
    if not sample or posterior.std is None:
        return posterior.mean
    return posterior.mean + posterior.std * (torch.randn_like(posterior.std) if noise is None else noise)


# --- the two models -------------------------------------------------------------------------


class Autoencoder(nn.Module):
    """Plain AE: x -> z = mean head(features) -> decoder. The VAE adds one head and noise."""

    is_variational = False

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.in_shape is None:
            raise ValueError("ModelConfig.in_shape must be filled in from the data before building")
        self.config = config
        self.latent_dim = config.latent_dim
        family = FAMILIES[config.family]
        self.encoder, features = family.encoder(config)
        self.mean_head = nn.Linear(features, config.latent_dim)
        self.decoder = family.decoder(config)

    def encode(self, x: torch.Tensor) -> Posterior:
        return Posterior(self.mean_head(self.encoder(x)), None)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1]: the Bernoulli means (or Gaussian means squashed the same way)."""
        return torch.sigmoid(self.decoder(z))

    def sample_code(self, posterior: Posterior, sample: bool, noise: torch.Tensor | None = None) -> torch.Tensor:
        return reparameterise(posterior, sample, noise)

    def forward(self, x: torch.Tensor, sample: bool | None = None, noise: torch.Tensor | None = None) -> Output:
        """sample: draw z from the posterior (VAE); defaults to True while training.
        noise: the (B, D) standard normal draw to use (fit() passes it so every rank of a torchrun
        launch gives each sample the noise it would get in one process); None draws it here."""
        posterior = self.encode(x)
        z = self.sample_code(posterior, self.training if sample is None else sample, noise)
        return Output(self.decode_logits(z), z, posterior)


class VAE(Autoencoder):
    """q(z|x) from config.posterior's family (training/posteriors.py): N(mean, diag(std^2)) by default;
    z = mean + std * eps while training (reparameterisation), or the family's own reparameterised draw."""

    is_variational = True

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.posterior = config.posterior
        self.logvar_head = nn.Linear(self.mean_head.in_features, config.latent_dim)
        for name, layer in extra_heads(config.posterior, self.mean_head.in_features, config.latent_dim).items():
            setattr(self, name, layer)

    def encode(self, x: torch.Tensor) -> Posterior:
        h = self.encoder(x)
        if self.posterior == "diag":  # the path of old: no q object to build
            return gaussian_posterior(h, self.mean_head, self.logvar_head)
        q = q_from_features(self, self.posterior, h)
        return Posterior(q.mean, q.std, q)

    def forward(self, x: torch.Tensor, sample: bool | None = None, noise: torch.Tensor | None = None) -> Output:
        """noise: (B, D) as for the AE, or (B, K, D) for K draws per image (IWAE): then z is (B, K, D)
        and the logits (B*K, C, H, W). log_q is filled in wherever the loss cannot do without it."""
        sample = self.training if sample is None else sample
        posterior = self.encode(x)
        if not sample or (posterior.q is None and (noise is None or noise.dim() == 2)):
            z = self.sample_code(posterior, sample, noise)
            return Output(self.decode_logits(z), z, posterior)
        q = family_q(posterior)
        eps = noise if noise is not None else torch.randn_like(posterior.mean)
        z, log_q = sample_with_log_prob(q, eps if eps.dim() == 3 else eps[:, None])  # (B, K, D), (B, K)
        logits = self.decode_logits(z.flatten(0, 1))
        if eps.dim() == 2:
            z, log_q = z[:, 0], log_q[:, 0]
        return Output(logits, z, posterior, log_q)


def sample_with_log_prob(q: Gaussian | Flow, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """z = q's draw from eps (B, K, D) and log q(z) (B, K), reparameterised."""
    if isinstance(q, Flow):
        return q.sample_and_log_prob(eps)
    return q.sample(eps), q.log_prob_of_eps(eps)


# --- conditional models: the condition c is a one-hot label or a visible half plus its mask -----


def condition_width(config: ModelConfig) -> int:
    c, h, w = config.in_shape
    if config.condition == "label":
        return config.n_classes
    if config.condition == "half":
        return 2 * c * h * w  # the visible pixels and the mask
    raise ValueError(f"no condition width for condition {config.condition!r}")


class ConditionalVAE(nn.Module):
    """CVAE (Sohn et al. 2015): q(z | x, c), p(x | z, c), prior N(0, I) whatever the condition.

    encode(x, c) -> Posterior, decode(z, c) -> images in [0, 1], forward(x, c) -> Output.
    """

    is_variational = True

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.latent_dim = config.latent_dim
        extra = condition_width(config)
        self.encoder, features = mlp_encoder(config, extra_in=extra)
        self.mean_head = nn.Linear(features, config.latent_dim)
        self.logvar_head = nn.Linear(features, config.latent_dim)
        self.decoder = mlp_decoder(config, extra_in=extra)

    def encode(self, x: torch.Tensor, c: torch.Tensor) -> Posterior:
        # The body's leading Flatten is a no-op on the (B, C*H*W + width) input flattened here.
        h = self.encoder(torch.cat([x.flatten(1), c], dim=1))  # (B, features)
        return gaussian_posterior(h, self.mean_head, self.logvar_head)

    def decode_logits(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.cat([z, c], dim=1))

    def decode(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z, c))

    def forward(
        self, x: torch.Tensor, c: torch.Tensor, sample: bool | None = None, noise: torch.Tensor | None = None
    ) -> Output:
        posterior = self.encode(x, c)
        z = reparameterise(posterior, self.training if sample is None else sample, noise)
        return Output(self.decode_logits(z, c), z, posterior)


class Regression(nn.Module):
    """The deterministic baseline: the same decoder body, fed the condition alone (no z).

    Trained on reconstruction only, it predicts the mean of what the condition allows.
    """

    is_variational = False

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.latent_dim = 0
        self.decoder = mlp_decoder(config, extra_in=condition_width(config), latent_in=0)

    def decode(self, c: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(c))

    def forward(
        self, x: torch.Tensor, c: torch.Tensor, sample: bool | None = None, noise: torch.Tensor | None = None
    ) -> Output:
        empty = x.new_zeros((len(x), 0))
        return Output(self.decoder(c), empty, Posterior(empty, None))


MODELS: dict[str, type[nn.Module]] = {"ae": Autoencoder, "vae": VAE, "cvae": ConditionalVAE, "regression": Regression}


def build_model(config: ModelConfig) -> Autoencoder:
    """The model a config asks for (validated here; the memory budget is the caller's: limits.check_run)."""
    config.validate()
    return MODELS[config.kind](config)


def prior_log_density(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over dimensions: (..., D) -> (...)."""
    return -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)
