"""Posterior families and the IWAE objective (issue 28): training speed of each against the diagonal
ELBO, side by side in one run, and the Inference page's per-pick analysis of every family."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {"diag": ("diag", "elbo"), "full": ("full", "elbo"), "flow": ("flow", "elbo"), "iwae50": ("diag", "iwae")}


def training_rates(quick: bool, batch: int = 128) -> dict[str, float]:
    """Training samples/s of each variant on the bundled moons architecture (28x28, 128-64, 2-D code):
    the training step of fit() (forward with its noise, loss_terms, Adam), the variants interleaved so
    load changes hit them alike; the median of rounds."""
    import torch

    from training.config import ModelConfig
    from training.fit import make_optimizer
    from training.losses import loss_terms
    from training.models import build_model

    torch.set_num_threads(1)
    side = 16 if quick else 28
    x = torch.rand(batch, 1, side, side, generator=torch.Generator().manual_seed(0))
    steps, rounds = (2, 2) if quick else (10, 5)
    setups = {}
    for name, (posterior, objective) in VARIANTS.items():
        torch.manual_seed(0)
        model = build_model(ModelConfig(latent_dim=2, in_shape=(1, side, side), posterior=posterior)).train()
        draws = (50,) if objective == "iwae" else ()
        setups[name] = (model, make_optimizer(model, 1e-3), draws)
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(rounds):
        for name, (model, optimizer, draws) in setups.items():
            started = time.perf_counter()
            for _ in range(steps):
                out = model(x, noise=torch.randn(batch, *draws, 2))
                optimizer.zero_grad(set_to_none=True)
                loss_terms(out, x, "bernoulli", 1.0).total.backward()
                optimizer.step()
            times[name].append(steps * batch / (time.perf_counter() - started))
    return {name: statistics.median(v) for name, v in times.items()}


def pick_seconds(quick: bool, pair: str = "moons-sparse-2d") -> tuple[float, int] | None:
    """Median seconds of the page's analysis of one pick with every family set present (each sibling's
    panel and the same decoder's q* per family), after one warm-up pick; None without the siblings."""
    from explorer.inference import family_panel, same_decoder
    from training.datasets import load_dataset
    from training.store import load_set

    folders = [ROOT / "checkpoints" / (pair + ("" if s == "diag" else f"-{s}")) for s in VARIANTS]
    if not all(f.is_dir() for f in folders):
        return None
    vaes = [load_set(f)["vae"] for f in folders]
    models = [v.model for v in vaes]
    x = load_dataset(vaes[0].config.data).test.x
    picks = [250] if quick else [100, 250, 500, 750, 900]
    seconds = []
    for i in [50, *picks]:
        started = time.perf_counter()
        for model in models:
            family_panel(model, x[i : i + 1])
        same_decoder(models[0], x[i : i + 1])
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds[1:]), len(models)


def rows(quick: bool, row, results: dict) -> list[str]:
    rates = training_rates(quick)
    results.update({f"families_samples_per_s_{k}": v for k, v in rates.items()})
    out = [
        row(
            f"training samples/s, {name} against diag",
            f"{rates[name]:,.0f} vs {rates['diag']:,.0f} ({rates[name] / rates['diag']:.2f}x)",
            "—",
            "one training step (forward, loss, Adam), batch 128, interleaved rounds, median, 1 thread",
            None,
        )
        for name in ("full", "flow", "iwae50")
    ]
    picked = pick_seconds(quick)
    if picked is None:
        out.append(
            row("Inference page: every family for one pick", "not measured", "≤ 1 s", "bundled siblings absent", None)
        )
        return out
    seconds, n = picked
    results["families_pick_s"] = seconds
    out.append(
        row(
            f"Inference page: every family for one pick ({n} models + same-decoder q*)",
            f"{seconds:.2f} s",
            "≤ 1 s",
            "median over test picks after a warm-up; a pick seen before is a cache hit",
            seconds <= 1.0,
            "each model's exact log p(x), posterior grid, 1,000 draws and q* by Newton (the flow's q* has 12 "
            "parameters per image, its Hessian 12 backward passes)",
        )
    )
    return out
