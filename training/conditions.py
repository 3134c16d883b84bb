"""Conditions for the conditional models: a one-hot label, or the visible half of an image.

A half condition is (x * mask, mask), flattened: the decoder sees which pixels it was given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:  # annotations only: config imports no registry, the registries no config
    from .config import ModelConfig

CONDITIONS = {  # ModelConfig.condition of a cvae / regression ("none" for AE and VAE)
    "label": "a one-hot class label",
    "half": "one visible half of the image and its mask",
}
MASKS = ("top", "bottom", "left", "right")  # which half stays visible


def half_mask(kind: str, shape: tuple[int, int, int]) -> torch.Tensor:
    """(C, H, W) float mask, 1 where the pixel is visible."""
    c, h, w = shape
    mask = torch.zeros(shape)
    if kind == "top":
        mask[:, : h // 2] = 1
    elif kind == "bottom":
        mask[:, h // 2 :] = 1
    elif kind == "left":
        mask[:, :, : w // 2] = 1
    elif kind == "right":
        mask[:, :, w // 2 :] = 1
    else:
        raise ValueError(f"unknown mask {kind!r}; choose one of {', '.join(MASKS)}")
    return mask


def random_masks(n: int, shape: tuple[int, int, int], generator: torch.Generator | None = None) -> torch.Tensor:
    """n masks, each one of the four halves at random: (n, C, H, W)."""
    bank = torch.stack([half_mask(k, shape) for k in MASKS])
    return bank[torch.randint(len(MASKS), (n,), generator=generator)]


def half_condition(x: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) images and masks -> (B, 2*C*H*W) condition."""
    return torch.cat([(x * masks).flatten(1), masks.flatten(1)], dim=1)


def label_condition(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    return F.one_hot(y.long(), n_classes).float()


def condition_for(
    config: ModelConfig,
    x: torch.Tensor,
    y: torch.Tensor | None,
    generator: torch.Generator | None = None,
    masks: torch.Tensor | None = None,
) -> torch.Tensor | None:
    """The condition a conditional model is trained or evaluated with; None for AE/VAE."""
    if config.condition == "label":
        return label_condition(y, config.n_classes)
    if config.condition == "half":
        return half_condition(x, masks if masks is not None else random_masks(len(x), tuple(x.shape[1:]), generator))
    return None
