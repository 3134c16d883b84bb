import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

torch.set_num_threads(1)  # small models: one thread is faster here (bench/) and deterministic

from training.config import DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from training.datasets import load_dataset  # noqa: E402


@pytest.fixture(scope="session")
def tiny_moons():
    return load_dataset(DataConfig("moons", regime="sparse", n_train=256, n_test=64, image_size=16))


@pytest.fixture(scope="session")
def tiny_config():
    return RunConfig(
        DataConfig("moons", regime="sparse", n_train=256, n_test=64, image_size=16),
        ModelConfig(latent_dim=2, hidden=(32, 16)),
        TrainConfig(epochs=3, batch_size=64, lr=3e-3),
    )


@pytest.fixture(scope="session")
def tiny_pair_dir(tmp_path_factory, tiny_moons, tiny_config):
    """A trained tiny pair on disk, shared by checkpoint, explorer and app tests."""
    from training.runs import train_and_save

    out = tmp_path_factory.mktemp("pairs") / "tiny-moons"
    train_and_save(tiny_config, out, dataset=tiny_moons, progress_bar=False, iwae_k=5)
    return out


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium through playwright; in CI its absence fails the browser tests."""
    from tests.browser import CHROMIUM_ARGS, chromium_path

    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI: .ci/run installs Debian's chromium package")
        pytest.skip("no Chromium here: apt-get install chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


def pytest_configure(config):
    os.environ.setdefault("LATENT_EXPLORER_DATA", str(ROOT / ".pytest-data"))
