"""The bundled pairs: the app opens on these with no download and no training."""

from pathlib import Path

import pytest
import torch

from training.checkpoint import load_checkpoint
from training.fit import kinds_of
from training.runs import DEFAULTS

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"


@pytest.mark.parametrize("name", list(DEFAULTS))
def test_bundled_pair_loads_and_is_small(name):
    for kind in kinds_of(DEFAULTS[name]):
        checkpoint = load_checkpoint(CHECKPOINTS / name / kind)
        assert checkpoint.path.stat().st_size < 1.5e6  # each model, so a pair stays under 3 MB
        assert checkpoint.config.data.name == DEFAULTS[name].data.name
        assert checkpoint.config.model.latent_dim == DEFAULTS[name].model.latent_dim
        assert checkpoint.config.model.condition == DEFAULTS[name].model.condition
        if kind == "vae":  # the posterior family and objective it was trained with (issue 28)
            assert checkpoint.config.model.posterior == DEFAULTS[name].model.posterior
            assert checkpoint.config.train.objective == DEFAULTS[name].train.objective
        assert checkpoint.history and all(torch.isfinite(torch.tensor(h["test_total"])) for h in checkpoint.history)


def test_metrics_table_lists_every_default():
    table = (CHECKPOINTS / "METRICS.md").read_text()
    for name, config in DEFAULTS.items():
        if config.model.condition == "none":
            assert f"| {name} | AE |" in table and f"| {name} | VAE |" in table
        else:
            assert f"### {name}" in table


def test_metrics_md_is_what_the_defaults_command_writes_from_the_sidecars():
    """Every number in METRICS.md comes from a sidecar or a file through defaults_table: a digit changed
    by hand, or a sidecar re-measured without rewriting the table, fails here."""
    from training.__main__ import defaults_table

    assert (CHECKPOINTS / "METRICS.md").read_text() == defaults_table(CHECKPOINTS)
