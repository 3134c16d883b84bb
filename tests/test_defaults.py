"""The bundled pairs: the app opens on these with no download and no training."""

from pathlib import Path

import pytest
import torch

from training.checkpoint import load_pair
from training.runs import DEFAULTS

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"


@pytest.mark.parametrize("name", list(DEFAULTS))
def test_bundled_pair_loads_and_is_small(name):
    pair = load_pair(CHECKPOINTS / name)
    for kind in ("ae", "vae"):
        checkpoint = pair[kind]
        assert checkpoint.path.stat().st_size < 1.5e6  # each model, so a pair stays under 3 MB
        assert checkpoint.config.data.name == DEFAULTS[name].data.name
        assert checkpoint.config.model.latent_dim == DEFAULTS[name].model.latent_dim
        assert checkpoint.metrics["recon_bce"] > 0
        z = torch.zeros(1, checkpoint.config.model.latent_dim)
        assert torch.isfinite(checkpoint.model.decode(z)).all()


def test_metrics_table_lists_every_default():
    table = (CHECKPOINTS / "METRICS.md").read_text()
    for name in DEFAULTS:
        assert f"| {name} | AE |" in table and f"| {name} | VAE |" in table
