"""The VAE's posterior families q(z|x), each with exact sampling and log-densities.

    diag   N(mean, diag(std^2))         the VAE of Kingma and Welling (2014)
    full   N(mean, L L^T)               L lower triangular with a positive diagonal (its Cholesky factor)
    flow   z = T_c(z0), z0 ~ N(mean, diag(std^2)); T an inverse-autoregressive-style stack of masked
           affine layers (zuko's MaskedAutoregressiveTransform, Papamakarios et al. 2017; Kingma et
           al. 2016) conditioned on a context c; log q(z) = log N(z0) - log|det dT/dz0|, exact

Every q is a batch of B distributions over D-dimensional codes with
    sample(eps)              eps (B, S, D) or (S, D) standard normals -> z (B, S, D)  (reparameterised)
    log_prob_of_eps(eps)     log q(z) at z = sample(eps), without inverting anything: (B, S)
    log_prob(z)              log q(z) at any z (B, S, D): (B, S)  (the flow inverts T, D passes)
    rsample(n)               n fresh draws: (B, n, D)
    kl_to_prior()            KL(q || N(0, I)) in closed form (B,), or None where there is none (flow)
Each is built either from an encoder's features (Head, in the VAE) or from free parameters per image
(Free: the vector q* is optimised over in training/inference.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

LOGVAR_RANGE = (-30.0, 20.0)  # keeps exp() finite when a VAE goes astray
FLOW_LAYERS = 3  # masked affine layers, alternating the order of the coordinates
FLOW_HIDDEN = (64, 64)  # each layer's hyper-network
FLOW_CONTEXT = 8  # what the encoder tells the flow about x, beyond the base Gaussian


def log_normal(eps: torch.Tensor) -> torch.Tensor:
    """log N(eps; 0, I) summed over the last dimension."""
    return -0.5 * (eps.pow(2).sum(-1) + eps.shape[-1] * math.log(2 * math.pi))


def _batch_eps(eps: torch.Tensor, b: int) -> torch.Tensor:
    return eps.expand(b, *eps.shape) if eps.dim() == 2 else eps


@dataclass
class Gaussian:
    """A batch of Gaussians N(mean, L L^T), diagonal or full covariance."""

    mean: torch.Tensor  # (B, D)
    scale_tril: torch.Tensor  # (B, D, D) lower triangular, positive diagonal

    @classmethod
    def diagonal(cls, mean: torch.Tensor, std: torch.Tensor) -> Gaussian:
        return cls(mean, torch.diag_embed(std))

    @classmethod
    def from_cov(cls, mean: torch.Tensor, cov: torch.Tensor) -> Gaussian:
        return cls(mean, torch.linalg.cholesky(cov))

    @property
    def cov(self) -> torch.Tensor:
        return self.scale_tril @ self.scale_tril.transpose(-1, -2)

    @property
    def std(self) -> torch.Tensor:
        return self.cov.diagonal(dim1=-2, dim2=-1).sqrt()

    def log_det_scale(self) -> torch.Tensor:
        """log |det L| = half the log-determinant of the covariance: (B,)."""
        return self.scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    def sample(self, eps: torch.Tensor) -> torch.Tensor:
        """eps (B, S, D) or shared (S, D) standard normals -> z (B, S, D)."""
        return self.mean[:, None] + eps @ self.scale_tril.transpose(-1, -2)

    def log_prob_of_eps(self, eps: torch.Tensor) -> torch.Tensor:
        """log q(z) at z = sample(eps), from eps alone (no triangular solve): (B, S)."""
        return log_normal(_batch_eps(eps, len(self.mean))) - self.log_det_scale()[:, None]

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z) for z (B, S, D): (B, S)."""
        diff = (z - self.mean[:, None]).transpose(-1, -2)  # (B, D, S)
        eps = torch.linalg.solve_triangular(self.scale_tril, diff, upper=False).transpose(-1, -2)
        return self.log_prob_of_eps(eps)

    def rsample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        eps = torch.randn((len(self.mean), n, self.mean.shape[-1]), generator=generator)
        return self.sample(eps.to(self.mean))

    def kl_to_prior(self) -> torch.Tensor:
        """KL(N(m, LL^T) || N(0, I)) = 0.5 (tr LL^T + |m|^2 - D - log det LL^T): (B,).

        The diagonal case is Kingma and Welling (2014), Appendix B; losses.kl_to_standard_normal."""
        d = self.mean.shape[-1]
        trace = self.scale_tril.pow(2).sum((-1, -2))
        return 0.5 * (trace + self.mean.pow(2).sum(-1) - d) - self.log_det_scale()

    def detach(self) -> Gaussian:
        return Gaussian(self.mean.detach(), self.scale_tril.detach())

    def rows(self, index) -> Gaussian:
        return Gaussian(self.mean[index], self.scale_tril[index])


def make_flow(latent_dim: int, context: int = FLOW_CONTEXT) -> nn.ModuleList:
    """The flow's layers, each the identity at initialisation (its hyper-network's last layer is zero:
    shift 0, log-scale 0), so an untrained flow q is exactly its base Gaussian."""
    from zuko.flows.autoregressive import MaskedAutoregressiveTransform

    layers = nn.ModuleList()
    # on the CPU even inside limits' meta-device count: zuko builds its masks with torch.unique, which
    # has no meta kernel (the layers are a few thousand parameters)
    with torch.device("cpu"):
        for i in range(FLOW_LAYERS):
            order = torch.arange(latent_dim) if i % 2 == 0 else torch.arange(latent_dim).flip(0)
            layers.append(
                MaskedAutoregressiveTransform(
                    features=latent_dim, context=context, order=order, hidden_features=FLOW_HIDDEN
                )
            )
    layers = layers.to(torch.get_default_device())
    for layer in layers:
        last = layer.hyper[-1]  # zuko's (masked) MLP: its output layer
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    return layers


@dataclass
class Flow:
    """A batch of flow distributions: z = T_c(z0), z0 ~ base. The mean of the family is not known in
    closed form; `mean` is T_c(base mean), the code an encoder gives for a picture."""

    base: Gaussian  # diagonal
    context: torch.Tensor  # (B, C)
    layers: nn.ModuleList

    def transform(self, s: int = 1):
        from zuko.transforms import ComposedTransform

        c = self.context[:, None].expand(-1, s, -1)  # (B, S, C): one context per image, every draw
        return ComposedTransform(*(layer(c) for layer in self.layers))

    @property
    def mean(self) -> torch.Tensor:
        return self.transform()(self.base.mean[:, None])[:, 0]

    @property
    def std(self) -> torch.Tensor:
        return self.base.std

    def sample_and_log_prob(self, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z = T(base.sample(eps)) (B, S, D) and log q(z) (B, S), in one forward pass."""
        eps = _batch_eps(eps, len(self.base.mean))
        z0 = self.base.sample(eps)
        z, ladj = self.transform(eps.shape[1]).call_and_ladj(z0)
        return z, self.base.log_prob_of_eps(eps) - ladj

    def sample(self, eps: torch.Tensor) -> torch.Tensor:
        return self.sample_and_log_prob(eps)[0]

    def log_prob_of_eps(self, eps: torch.Tensor) -> torch.Tensor:
        return self.sample_and_log_prob(eps)[1]

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        t = self.transform(z.shape[1])
        z0 = t.inv(z)
        return self.base.log_prob(z0) - t.log_abs_det_jacobian(z0, z)

    def rsample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        eps = torch.randn((len(self.base.mean), n, self.base.mean.shape[-1]), generator=generator)
        return self.sample(eps.to(self.base.mean))

    def kl_to_prior(self) -> None:
        return None  # no closed form: callers estimate it from draws

    def detach(self) -> Flow:
        return Flow(self.base.detach(), self.context.detach(), self.layers)

    def rows(self, index) -> Flow:
        return Flow(self.base.rows(index), self.context[index], self.layers)


# --- encoder heads: features (B, F) -> q ----------------------------------------------------------


def _tril_index(d: int) -> torch.Tensor:
    return torch.tril(torch.ones(d, d), -1).bool()


def extra_heads(family: str, features: int, latent_dim: int) -> dict[str, nn.Module]:
    """The encoder's last layers beyond the diagonal Gaussian's mean_head and logvar_head, by the
    attribute names the VAE keeps them under: tril_head (full: L's strictly lower part) or
    context_head and flow (flow). Built after the diagonal heads, so a diag VAE draws the same
    initial weights from a seed as before the families (and its old checkpoints load unchanged). The
    extra layers start at zero: every family starts as the diagonal Gaussian."""
    out: dict[str, nn.Module] = {}
    if family == "full" and latent_dim > 1:
        out["tril_head"] = nn.Linear(features, latent_dim * (latent_dim - 1) // 2)
        nn.init.zeros_(out["tril_head"].weight)
        nn.init.zeros_(out["tril_head"].bias)
    elif family == "flow":
        out["context_head"] = nn.Linear(features, FLOW_CONTEXT)
        out["flow"] = make_flow(latent_dim)
    return out


def q_from_features(module: nn.Module, family: str, h: torch.Tensor) -> Gaussian | Flow:
    """q from the encoder's features h (B, F) through `module`'s mean_head, logvar_head and extra_heads."""
    logvar = module.logvar_head(h).clamp(*LOGVAR_RANGE)
    g = Gaussian.diagonal(module.mean_head(h), torch.exp(0.5 * logvar))
    if family == "full" and g.mean.shape[-1] > 1:
        lower = _tril_index(g.mean.shape[-1]).to(h.device)
        return Gaussian(g.mean, g.scale_tril.masked_scatter(lower.expand_as(g.scale_tril), module.tril_head(h)))
    if family == "flow":
        return Flow(g, module.context_head(h), module.flow)
    return g


# --- free parameters: one flat vector per image (q*), so any step gives a valid q ----------------


class Free:
    """q as a flat vector per image: mean, log of L's diagonal, then (full) L's strictly lower part or
    (flow) the flow's context, the flow's layers being the model's (fixed). pack(q) -> (B, P); unpack
    -> q."""

    def __init__(self, family: str, d: int, layers: nn.ModuleList | None = None):
        self.family, self.d, self.layers = family, d, layers
        self.lower = _tril_index(d)

    def pack(self, q: Gaussian | Flow) -> torch.Tensor:
        g = q.base if isinstance(q, Flow) else q
        parts = [g.mean, g.scale_tril.diagonal(dim1=-2, dim2=-1).log()]
        if self.family == "full":
            parts.append(g.scale_tril[:, self.lower])
        elif self.family == "flow":
            parts.append(q.context)
        return torch.cat(parts, 1).detach().clone()

    def unpack(self, theta: torch.Tensor) -> Gaussian | Flow:
        d = self.d
        scale = torch.diag_embed(theta[:, d : 2 * d].exp())
        if self.family == "full":
            scale = scale.masked_scatter(self.lower.expand_as(scale), theta[:, 2 * d :])
        g = Gaussian(theta[:, :d], scale)
        if self.family == "flow":
            return Flow(g, theta[:, 2 * d :], self.layers)
        return g


def free_for(q: Gaussian | Flow, family: str) -> Free:
    """The free parameterisation of `family` that starts from q (a Gaussian q starts any Gaussian family)."""
    return Free(family, q.mean.shape[-1], q.layers if isinstance(q, Flow) else None)


POSTERIORS: dict[str, str] = {  # ModelConfig.posterior -> what it is (CLI help, Train page)
    "diag": "diagonal Gaussian",
    "full": "full-covariance Gaussian",
    "flow": "normalising flow on a Gaussian",
}


def moments(q: Gaussian | Flow, n: int = 4000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """q's mean (B, D) and covariance (B, D, D): exact for a Gaussian, from n seeded draws for a flow."""
    if isinstance(q, Gaussian):
        return q.mean, q.cov
    z = q.rsample(n, torch.Generator().manual_seed(seed)).detach()  # (B, n, D)
    mean = z.mean(1)
    centred = z - mean[:, None]
    return mean, centred.transpose(1, 2) @ centred / (n - 1)
