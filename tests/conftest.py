import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

torch.set_num_threads(1)  # small models: one thread is faster here (bench/) and deterministic
# Long requests (explorer/offload.py) in the script's own thread: AppTest runs a script once and does not
# poll the progress fragment. tests/test_offload.py and the browser test there run them in worker processes.
os.environ.setdefault("LATENT_EXPLORER_LONG", "inline")

from training.config import DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from training.datasets import load_dataset  # noqa: E402


@pytest.fixture(scope="session")
def tiny_moons():
    """24 test images: the tiny pair's save measures exact log p(x) on each (~0.06 s an image)."""
    return load_dataset(DataConfig("moons", regime="sparse", n_train=256, n_test=24, image_size=16))


@pytest.fixture(scope="session")
def tiny_config():
    return RunConfig(
        DataConfig("moons", regime="sparse", n_train=256, n_test=24, image_size=16),
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
def tiny_digits_dir(tmp_path_factory):
    """A tiny digits pair with 10 latent dimensions (labels, class endpoints, more dims than sliders)."""
    from training.runs import train_and_save

    config = RunConfig(
        DataConfig("digits", n_train=400, n_test=100),
        ModelConfig(latent_dim=10, hidden=(32,)),
        TrainConfig(epochs=2, batch_size=64, lr=3e-3),
    )
    out = tmp_path_factory.mktemp("pairs") / "tiny-digits"
    train_and_save(config, out, progress_bar=False, iwae_k=2)
    return out


@pytest.fixture(scope="session")
def app_runs(tmp_path_factory, tiny_pair_dir, tiny_digits_dir):
    """A runs folder holding the tiny pairs, as tests.helpers.TINY_MOONS and TINY_DIGITS."""
    runs = tmp_path_factory.mktemp("app-runs")
    shutil.copytree(tiny_pair_dir, runs / "tiny-moons")
    shutil.copytree(tiny_digits_dir, runs / "tiny-digits")
    return runs


@pytest.fixture
def app(app_runs, monkeypatch):
    """open_app with the tiny pairs listed under runs/ (the bundled pairs stay listed too)."""
    from tests.helpers import open_app

    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(app_runs))
    return open_app


@pytest.fixture(autouse=True)
def seeded():
    """torch's global generator starts from the same seed in every test, whatever ran before."""
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def fresh_jobs(monkeypatch):
    """Worker processes a test started are stopped when it ends (queued runs in their folders
    cancelled first, so none starts after), so test order never matters."""
    from training import jobs

    monkeypatch.setattr(jobs, "_CHILDREN", {})
    yield
    children = list(jobs._CHILDREN.values())
    for runs in {Path(c.args[-1]).parent for c in children}:
        for folder in jobs.active_folders(runs):
            jobs.cancel(folder.name, runs)
    for child in children:
        if isinstance(child, subprocess.Popen):
            child.terminate()
            child.wait(60)
        else:
            child.thread.join(60)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium through playwright; in CI its absence fails the browser tests."""
    from bench.harness import CHROMIUM_ARGS, chromium_path

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


@pytest.fixture
def shots_dir(tmp_path):
    """Where a browser test saves its screenshots: the test's tmp folder, so `make test` leaves a clean
    checkout clean; `make screenshots` sets LATENT_EXPLORER_SHOTS=docs to refresh the README's copies."""
    folder = os.environ.get("LATENT_EXPLORER_SHOTS")
    return Path(folder) if folder else tmp_path


@pytest.fixture(scope="module")
def app_url():
    """`streamlit run app.py` on 127.0.0.1 for one test module's browser tests."""
    from bench.harness import streamlit_server

    with streamlit_server() as url:
        yield url


def pytest_configure(config):
    os.environ.setdefault("LATENT_EXPLORER_DATA", str(ROOT / ".pytest-data"))


@pytest.fixture(scope="module")
def offload_url(tmp_path_factory):
    """A server of the module's browser tests whose long requests run in worker processes (as `make run`
    has them), with a runs folder (and so shared results) of its own."""
    from bench.harness import streamlit_server

    root = tmp_path_factory.mktemp("offload")
    env = {"LATENT_EXPLORER_LONG": "process", "LATENT_EXPLORER_RUNS": str(root / "runs")}
    with streamlit_server(env=env, max_seconds=1200) as base:
        yield base
