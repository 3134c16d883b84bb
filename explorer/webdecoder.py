"""What the browser needs to run a decoder itself: MLP weights as base64 float32.

Only plain Linear/ReLU stacks (the MLP family) qualify; anything else decodes on the server.
"""

from __future__ import annotations

import base64
import hashlib

import numpy as np
import torch
from torch import nn

from training.models import Autoencoder


def b64_float32(tensor: torch.Tensor) -> str:
    return base64.b64encode(tensor.detach().to(torch.float32).contiguous().numpy().tobytes()).decode("ascii")


def mlp_layers(model: Autoencoder) -> list[dict] | None:
    """[{w, b, n_in, n_out, act}] for the decoder, activations folded in; None if not an MLP."""
    layers: list[dict] = []
    modules = list(model.decoder)
    for i, module in enumerate(modules):
        if isinstance(module, nn.Linear):
            nxt = modules[i + 1] if i + 1 < len(modules) else None
            act = "relu" if isinstance(nxt, nn.ReLU) else "sigmoid"  # the last layer's sigmoid is decode()'s
            layers.append(
                {
                    "w": b64_float32(module.weight),
                    "b": b64_float32(module.bias),
                    "n_in": module.in_features,
                    "n_out": module.out_features,
                    "act": act,
                }
            )
        elif isinstance(module, (nn.ReLU, nn.Unflatten)):
            continue
        else:
            return None
    if not layers or layers[-1]["act"] != "sigmoid":
        return None
    return layers


def decoder_id(model: Autoencoder) -> str:
    """Content hash of the decoder's weights: the browser keeps decoders by it."""
    if hasattr(model, "content_id"):  # an ONNX model (training/onnxset.py): its graphs' digests
        return model.content_id
    h = hashlib.sha256()
    for name, tensor in sorted(model.decoder.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().numpy().tobytes())
    return h.hexdigest()[:16]


def decode_reference(model: Autoencoder, z: np.ndarray) -> np.ndarray:
    """What the browser must reproduce: model.decode, flattened (N, C*H*W)."""
    with torch.no_grad():
        return model.decode(torch.as_tensor(np.atleast_2d(z), dtype=torch.float32)).flatten(1).numpy()
