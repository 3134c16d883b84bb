"""The half-moon lab: train AE/VAE pairs per moons regime, latent size and seed, and score them.

    python -m training lab --regimes full,gap,sparse --latent-dims 2,16 --seeds 3 --out lab/

Writes lab/results.json (every number, per seed and as mean/std) and lab/results.md.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .config import PAIR_KINDS, DataConfig, LabConfig, ModelConfig, RunConfig, TrainConfig
from .datasets import Dataset, load_dataset
from .metrics import Bank, bank_for, fit_gaussian, gaussian_codes, path_scores, prior_validity, reconstruction_errors
from .moons import nearest_phase_index
from .paths import lerp
from .runs import train_and_save
from .store import load_set

CRESCENT, FULL = 0.1, 0.5


def pair_config(lab: LabConfig, regime: str, latent_dim: int, seed: int) -> RunConfig:
    return RunConfig(
        DataConfig(
            "moons", regime=regime, image_size=lab.image_size, n_train=lab.n_train, n_test=lab.n_test, seed=seed
        ),
        ModelConfig(latent_dim=latent_dim, hidden=lab.hidden),
        TrainConfig(epochs=lab.epochs, seed=seed),
    )


@torch.no_grad()
def interpolate_decode(model, x_a: torch.Tensor, x_b: torch.Tensor, steps: int) -> np.ndarray:
    """Decode the straight line between the posterior means of two images: (steps, C, H, W)."""
    za, zb = model.encode(torch.stack([x_a, x_b])).mean.numpy()
    return model.decode(torch.from_numpy(lerp(za, zb, steps).astype(np.float32))).numpy()


@torch.no_grad()
def score_model(model, dataset: Dataset, bank: Bank, lab: LabConfig, seed: int) -> dict:
    """Everything the lab reports for one model."""
    test = dataset.test
    phases = test.factors["phase"]
    a, b = nearest_phase_index(phases, CRESCENT), nearest_phase_index(phases, FULL)
    c2f = path_scores(interpolate_decode(model, test.x[a], test.x[b], lab.steps), bank)

    rng = np.random.default_rng(seed)
    pairs = rng.choice(len(test), size=(lab.random_pairs, 2), replace=True)
    random_scores = [path_scores(interpolate_decode(model, test.x[i], test.x[j], lab.steps), bank) for i, j in pairs]

    train_codes = model.encode(dataset.train.x).mean.numpy()
    standard = gaussian_codes(lab.prior_samples, train_codes.shape[1], rng)
    fitted = gaussian_codes(lab.prior_samples, train_codes.shape[1], rng, fit_gaussian(train_codes))
    return {
        **reconstruction_errors(model, test.x),
        "c2f_mean_distance": c2f["mean_distance"],
        "c2f_max_distance": c2f["max_distance"],
        "c2f_smoothness": c2f["smoothness"],
        "c2f_passes_half_moon": float(c2f["passes_half_moon"]),
        "random_mean_distance": float(np.mean([s["mean_distance"] for s in random_scores])),
        "random_smoothness": float(np.mean([s["smoothness"] for s in random_scores])),
        "prior_standard": prior_validity(model, bank, standard),
        "prior_fitted": prior_validity(model, bank, fitted),
    }


def summarise(per_seed: list[dict]) -> dict:
    keys = per_seed[0].keys()
    return {
        k: {"mean": float(np.mean([s[k] for s in per_seed])), "std": float(np.std([s[k] for s in per_seed]))}
        for k in keys
    }


def run_lab(lab: LabConfig, out: str | Path, log: Callable[[str], None] = print, progress_bar: bool = False) -> dict:
    out = Path(out)
    started = time.perf_counter()
    results: dict = {"config": asdict(lab), "cells": []}
    for regime in lab.regimes:
        for latent_dim in lab.latent_dims:
            per_seed: dict[str, list[dict]] = {kind: [] for kind in PAIR_KINDS}
            for seed in range(lab.seeds):
                config = pair_config(lab, regime, latent_dim, seed)
                pair_dir = out / "runs" / f"{regime}-{latent_dim}d-s{seed}"
                dataset = load_dataset(config.data)
                if not (pair_dir / "vae.json").is_file():
                    t0 = time.perf_counter()
                    train_and_save(config, pair_dir, dataset=dataset, progress_bar=progress_bar, iwae_k=10)
                    log(f"trained {pair_dir.name} in {time.perf_counter() - t0:.1f} s")
                pair = load_set(pair_dir)
                bank = bank_for(dataset)
                for kind in PAIR_KINDS:
                    per_seed[kind].append(score_model(pair[kind].model, dataset, bank, lab, seed))
            for kind in PAIR_KINDS:
                results["cells"].append(
                    {
                        "regime": regime,
                        "latent_dim": latent_dim,
                        "model": kind,
                        "per_seed": per_seed[kind],
                        "summary": summarise(per_seed[kind]),
                    }
                )
            log(f"scored {regime} / latent {latent_dim}")
    results["seconds"] = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "results.md").write_text(results_markdown(results))
    return results


def _cell(results: dict, regime: str, dim: int, kind: str) -> dict:
    return next(c for c in results["cells"] if (c["regime"], c["latent_dim"], c["model"]) == (regime, dim, kind))[
        "summary"
    ]


def results_markdown(results: dict) -> str:
    lab = results["config"]
    fmt = lambda s, k, p=4: f"{s[k]['mean']:.{p}f} ± {s[k]['std']:.{p}f}"  # noqa: E731
    lines = [
        "# Half-moon lab results",
        "",
        f"`python -m training lab --regimes {','.join(lab['regimes'])} --latent-dims "
        f"{','.join(map(str, lab['latent_dims']))} --seeds {lab['seeds']} --out lab/` "
        f"({lab['epochs']} epochs, {lab['n_train']} training moons, {results['seconds']:.0f} s). "
        f"Mean ± std over {lab['seeds']} seeds. Distances are mean squared pixel errors to the nearest of "
        "1,000 true renders (0 = a real moon); lower is better everywhere except the half-moon column.",
        "",
        "| regime | latent | model | recon MSE | crescent→full mean dist | max dist | smoothness | "
        "passes a half moon | random-pair dist | prior N(0,I) | prior fitted |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cell in results["cells"]:
        s = cell["summary"]
        lines.append(
            f"| {cell['regime']} | {cell['latent_dim']} | {cell['model'].upper()} | {fmt(s, 'recon_mse')} | "
            f"{fmt(s, 'c2f_mean_distance')} | {fmt(s, 'c2f_max_distance')} | {fmt(s, 'c2f_smoothness', 2)} | "
            f"{s['c2f_passes_half_moon']['mean'] * lab['seeds']:.0f}/{lab['seeds']} | "
            f"{fmt(s, 'random_mean_distance')} | "
            f"{fmt(s, 'prior_standard')} | {fmt(s, 'prior_fitted')} |"
        )
    lines += [
        "",
        "Ratios AE / VAE (above 1: the VAE stays closer to real moons):",
        "",
        "| regime | latent | crescent→full distance | random-pair distance | prior samples (AE fitted vs VAE "
        "N(0,I)) | recon MSE |",
        "|---|---|---|---|---|---|",
    ]
    for regime in lab["regimes"]:
        for dim in lab["latent_dims"]:
            ae, vae = _cell(results, regime, dim, "ae"), _cell(results, regime, dim, "vae")
            ratio = lambda k1, k2=None: ae[k1]["mean"] / max(vae[k2 or k1]["mean"], 1e-12)  # noqa: E731
            lines.append(
                f"| {regime} | {dim} | {ratio('c2f_mean_distance'):.2f} | {ratio('random_mean_distance'):.2f} | "
                f"{ratio('prior_fitted', 'prior_standard'):.2f} | {ratio('recon_mse'):.2f} |"
            )
    return "\n".join(lines) + "\n"
