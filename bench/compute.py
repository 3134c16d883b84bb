"""In-process measurements: decoding, encoding, projections, training throughput and FLOP/s."""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F

from training.bank import moon_bank
from training.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from training.datasets import load_dataset
from training.fit import fit, make_optimizer
from training.geometry import hole_map
from training.losses import kl_to_standard_normal, loss_terms
from training.store import load_set

ROOT_CHECKPOINTS = __import__("pathlib").Path(__file__).resolve().parent.parent / "checkpoints"


@contextmanager
def threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def timed(fn, repeat: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def decode_paths(quick: bool) -> dict:
    """Decode one latent; decode a 64x64 grid (and score it as a hole map); 1 vs 2 threads."""
    vae = load_set(ROOT_CHECKPOINTS / "moons-sparse-2d")["vae"].model
    z1 = torch.zeros(1, 2)
    grid = torch.from_numpy(
        np.stack(np.meshgrid(np.linspace(-3, 3, 64), np.linspace(-3, 3, 64)), -1).reshape(-1, 2).astype(np.float32)
    )
    bank = moon_bank(28)
    out = {}
    for n in (1, 2):
        with threads(n), torch.no_grad():
            out[f"decode_one_ms_{n}t"] = 1000 * median(timed(lambda: vae.decode(z1), 50 if quick else 1000))
            out[f"decode_grid_s_{n}t"] = median(timed(lambda: vae.decode(grid), 3 if quick else 20))
            out[f"hole_map_s_{n}t"] = median(
                timed(lambda: hole_map(vae, bank, grid.numpy(), 64), 1 if quick else 5, warmup=1)
            )
    return out


def encode_path(quick: bool) -> dict:
    vae = load_set(ROOT_CHECKPOINTS / "moons-sparse-2d")["vae"].model
    test = load_dataset(DataConfig("moons", n_train=10, n_test=1000)).test.x
    x = test.repeat(10, 1, 1, 1)  # (10,000, 1, 28, 28)
    out = {}
    for n in (1, 2):
        with threads(n), torch.no_grad():
            out[f"encode_10k_s_{n}t"] = median(timed(lambda: vae.encode(x), 2 if quick else 10, warmup=1))
    return out


def projection_paths(quick: bool) -> dict:
    from explorer.projection import PCA

    codes = np.random.default_rng(0).standard_normal((10_000, 16)).astype(np.float32)
    return {"pca_10k_s": median(timed(lambda: PCA().fit(codes), 2 if quick else 5, warmup=1))}


class ItemDataset(torch.utils.data.Dataset):
    """The textbook way: one image per __getitem__, batched by a DataLoader."""

    def __init__(self, x: torch.Tensor):
        self.x = x

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], 0


def textbook_loss(output, x: torch.Tensor) -> torch.Tensor:
    """pytorch/examples vae/main.py's loss_function: BCE summed plus the closed-form KLD."""
    bce = F.binary_cross_entropy_with_logits(output.logits, x, reduction="sum")
    mean, std = output.posterior.mean, output.posterior.std
    return (bce + kl_to_standard_normal(mean, std).sum()) / len(x)


def textbook_epochs(model, x: torch.Tensor, epochs: int, batch_size: int, lr: float, our_step: bool = False) -> float:
    """pytorch/examples vae/main.py's loop on our model and data; returns samples per second.

    our_step: the same DataLoader loop, but with fit()'s loss and optimizer (isolates the data path).
    """
    loader = torch.utils.data.DataLoader(ItemDataset(x), batch_size=batch_size, shuffle=True)
    optimizer = make_optimizer(model, lr) if our_step else torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    t0 = time.perf_counter()
    train_loss = 0.0
    for _ in range(epochs):
        for batch, _ in loader:
            optimizer.zero_grad()
            output = model(batch)
            loss = loss_terms(output, batch, "bernoulli", 1.0).total if our_step else textbook_loss(output, batch)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
    return epochs * len(x) / (time.perf_counter() - t0)


def forward_flops(model) -> int:
    """FLOPs of one forward pass per sample: 2 * in * out per Linear layer."""
    return sum(2 * m.in_features * m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear))


def matmul_flops(n: int = 1024, repeat: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    seconds = median(timed(lambda: torch.mm(a, b), repeat))
    return 2 * n**3 / seconds


def training_paths(quick: bool) -> dict:
    """fit() against the textbook loop on the same model, data and batch size, at 1 and 2 threads.

    Each is warmed up once, then measured in alternating turns; the best turn of each counts.
    """
    from training.models import build_model

    data = load_dataset(DataConfig("moons", n_train=1000 if quick else 4000, n_test=100))
    epochs = 1 if quick else 3
    turns = 1 if quick else 3
    out = {}

    def run_fit(n: int) -> tuple[float, object]:
        config = RunConfig(
            DataConfig("moons"), ModelConfig(kind="vae", latent_dim=2), TrainConfig(epochs=epochs, threads=n)
        )
        result = fit(config, data, progress_bar=False)
        return result.samples_per_second, result

    for n in (1, 2):
        with threads(n):
            _, result = run_fit(n)  # warm-up
            shape = result.config.model
            ways = {
                "fit": lambda: run_fit(n)[0],
                "textbook": lambda: textbook_epochs(build_model(shape), data.train.x, epochs, 128, 1e-3),
                "loader_our_step": lambda: textbook_epochs(build_model(shape), data.train.x, epochs, 128, 1e-3, True),
            }
            best = {name: 0.0 for name in ways}
            for _ in range(turns):
                for name, way in ways.items():
                    torch.manual_seed(0)
                    best[name] = max(best[name], way())
            for name, value in best.items():
                out[f"{name}_samples_per_s_{n}t"] = value
            out[f"matmul_flops_{n}t"] = matmul_flops(512 if quick else 1024, 3 if quick else 10)
            out["model_forward_flops"] = forward_flops(result.model)
    # forward + backward is about 3x the forward pass (Kaplan et al. 2020)
    for n in (1, 2):
        out[f"fit_flops_{n}t"] = 3 * out["model_forward_flops"] * out[f"fit_samples_per_s_{n}t"]
    # The same fit() while another process keeps one core busy, as a shared server or the app's
    # own server thread does: this decides the default thread count.
    with busy_core():
        for n in (1, 2):
            with threads(n):
                out[f"fit_loaded_samples_per_s_{n}t"] = max(run_fit(n)[0] for _ in range(turns))
    return out


@contextmanager
def busy_core(seconds: float = 120):
    """A spinning process (bounded in time) on the other core."""
    import subprocess
    import sys

    spin = subprocess.Popen(
        [sys.executable, "-c", f"import time\nend = time.time() + {seconds}\nwhile time.time() < end: pass"]
    )
    try:
        time.sleep(0.3)
        yield
    finally:
        spin.kill()
        spin.wait()


def cached_projection(quick: bool) -> dict:
    """UMAP behind st.cache_resource, as the app holds it: the first call fits, the second is a lookup."""
    import streamlit as st

    from explorer.projection import UMAP

    codes = np.random.default_rng(0).standard_normal((1000 if quick else 10_000, 16)).astype(np.float32)

    @st.cache_resource
    def fitted(key: str):
        return UMAP().fit(codes)

    t0 = time.perf_counter()
    fitted("bench")
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    fitted("bench")
    return {"umap_in_process_first_s": first, "umap_cached_s": time.perf_counter() - t0}
