"""Exact inference timings (training/inference.py): the Inference page's budget, measured."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timings(quick: bool, pair: str = "moons-sparse-2d") -> dict:
    """Median seconds over a few test images: exact log p(x) + posterior heat map (target 0.5 s), and
    everything the page computes for a pick (target 1 s: + ELBO, IWAE-k with 5,000 draws, q* by Newton)."""
    from explorer.inference import analyse_image, exact_only
    from training.checkpoint import load_checkpoint
    from training.datasets import load_dataset

    checkpoint = load_checkpoint(ROOT / "checkpoints" / pair / "vae")
    model = checkpoint.model.eval()
    x = load_dataset(checkpoint.config.data).test.x
    picks = [250] if quick else [100, 250, 500, 750, 900]
    exact_only(model, x[:1])  # warm-up
    core, page = [], []
    for i in picks:
        started = time.perf_counter()
        exact_only(model, x[i : i + 1])
        core.append(time.perf_counter() - started)
        started = time.perf_counter()
        analyse_image(model, x[i : i + 1])
        page.append(time.perf_counter() - started)
    return {"inference_exact_s": statistics.median(core), "inference_page_s": statistics.median(page), "pair": pair}


def rows(quick: bool, row, results: dict) -> list[str]:
    """bench/__main__.py's table rows; the raw numbers go into results."""
    r = timings(quick)
    results.update(r)
    return [
        row(
            f"exact log p(x) + posterior heat map, one image ({r['pair']})",
            f"{r['inference_exact_s']:.2f} s",
            "≤ 0.5 s",
            "median over 5 test images, 1 thread",
            r["inference_exact_s"] <= 0.5,
        ),
        row(
            "Inference page's analysis of a pick (+ ELBO, IWAE-k, q*)",
            f"{r['inference_page_s']:.2f} s",
            "≤ 1 s",
            "same images; the page caches each pick",
            r["inference_page_s"] <= 1.0,
            "q* is Newton to convergence (a handful of steps); the quadrature's refinements on hard images and the "
            "5,000 IWAE draws are the rest",
        ),
    ]
