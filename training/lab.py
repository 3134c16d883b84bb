"""The half-moon lab: train AE/VAE pairs per moons regime, latent size and seed, and score them.

    python -m training lab --regimes full,gap,sparse --latent-dims 1,2,16 --seeds 5 --out lab/

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

from .bank import Bank, bank_for
from .config import LabConfig
from .datasets import Dataset, load_dataset
from .geometry import closest_half_moon, padded_bounds
from .kinds import LABELS, PAIR_KINDS
from .metrics import encode_all, path_scores, prior_coverage, reconstruction_errors
from .moons import CRESCENT, FULL, HALF_MOON_BAND, PHASE_TOLERANCE, nearest_phase_index
from .paths import lerp
from .runs import train_and_save
from .sampling import fit_gaussian, gaussian_codes
from .store import load_set

RESULTS = Path(__file__).resolve().parent.parent / "lab" / "results.json"  # the committed lab run


@torch.no_grad()
def interpolate_decode(model, x_a: torch.Tensor, x_b: torch.Tensor, steps: int) -> np.ndarray:
    """Decode the straight line between the posterior means of two images: (steps, C, H, W)."""
    za, zb = model.encode(torch.stack([x_a, x_b])).mean.numpy()
    return model.decode(torch.from_numpy(lerp(za, zb, steps).astype(np.float32))).numpy()


def sampler_scores(model, dataset: Dataset, bank: Bank, codes: dict[str, np.ndarray]) -> dict:
    """Prior-sample scores of one model under each sampler: mean distance, validity and coverage."""
    out = {}
    for name, z in codes.items():
        images = model.decode(torch.from_numpy(z.astype(np.float32))).numpy()
        coverage = prior_coverage(images, bank, dataset.train.factors["phase"])
        out[f"prior_{name}"] = coverage.pop("mean_distance")
        out.update({f"prior_{name}_{k}": v for k, v in coverage.items()})
    return out


@torch.no_grad()
def score_model(model, dataset: Dataset, bank: Bank, lab: LabConfig, seed: int) -> dict:
    """Everything the lab reports for one model (scalars, and phase histograms as lists)."""
    test = dataset.test
    phases = test.factors["phase"]
    a, b = nearest_phase_index(phases, CRESCENT), nearest_phase_index(phases, FULL)
    c2f = path_scores(interpolate_decode(model, test.x[a], test.x[b], lab.steps), bank)

    rng = np.random.default_rng(seed)
    pairs = rng.choice(len(test), size=(lab.random_pairs, 2), replace=True)
    random_scores = [path_scores(interpolate_decode(model, test.x[i], test.x[j], lab.steps), bank) for i, j in pairs]

    train_codes = encode_all(model, dataset.train.x)[0].numpy()
    search = closest_half_moon(
        model, bank, *padded_bounds(train_codes, 0.1, min_extent=1e-3), n=lab.search_codes, seed=seed
    )
    d = train_codes.shape[1]
    samplers = {
        "standard": gaussian_codes(lab.prior_samples, d, rng),
        "fitted": gaussian_codes(lab.prior_samples, d, rng, fit_gaussian(train_codes)),
    }
    return {
        **reconstruction_errors(model, test.x),
        "c2f_mean_distance": c2f["mean_distance"],
        "c2f_max_distance": c2f["max_distance"],
        "c2f_worst_phase": c2f["worst_phase"],
        "c2f_smoothness": c2f["smoothness"],
        "c2f_passes_half_moon": float(c2f["passes_half_moon"]),
        "c2f_half_moon_miss": c2f["half_moon_miss"],
        "random_mean_distance": float(np.mean([s["mean_distance"] for s in random_scores])),
        "random_max_distance": float(np.mean([s["max_distance"] for s in random_scores])),
        "random_smoothness": float(np.mean([s["smoothness"] for s in random_scores])),
        "box_half_moon_distance": search["distance"],
        "box_half_moon_phase": search["phase"],
        "box_invents_half_moon": float(search["is_half_moon"]),
        **sampler_scores(model, dataset, bank, samplers),
    }


def _score_settings(lab: LabConfig) -> dict:
    """What a pair's scores depend on besides the pair itself (JSON-normalised)."""
    skip = ("regimes", "latent_dims", "seeds", "bootstrap")
    return json.loads(json.dumps({k: v for k, v in asdict(lab).items() if k not in skip}))


def cached_scores(pair_dir: Path, lab: LabConfig) -> dict[str, dict] | None:
    """A pair's saved scores when they were made with these settings, else None."""
    cache = pair_dir / "scores.json"
    if not cache.is_file():
        return None
    saved = json.loads(cache.read_text())
    return saved["scores"] if saved.get("settings") == _score_settings(lab) else None


def score_pair(pair_dir: Path, dataset: Dataset, lab: LabConfig, seed: int) -> dict[str, dict]:
    """Scores of a pair's AE and VAE, kept in pair_dir/scores.json and reused while the scoring
    settings are unchanged (so a long lab can be resumed, and scored while later seeds train)."""
    found = cached_scores(pair_dir, lab)
    if found is not None:
        return found
    pair, bank = load_set(pair_dir), bank_for(dataset)
    scores = {kind: score_model(pair[kind].model, dataset, bank, lab, seed) for kind in PAIR_KINDS}
    _write_atomic(pair_dir / "scores.json", json.dumps({"settings": _score_settings(lab), "scores": scores}))
    return scores


def _write_atomic(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text)
    partial.replace(path)  # never a half-written file


def summarise(per_seed: list[dict]) -> dict:
    """Mean and std over seeds of every number (lists, such as histograms, element-wise)."""
    return {
        k: {
            "mean": np.mean([s[k] for s in per_seed], axis=0).tolist(),
            "std": np.std([s[k] for s in per_seed], axis=0).tolist(),
        }
        for k in per_seed[0]
    }


def bootstrap_ratio(ae: np.ndarray, vae: np.ndarray, n: int = 10_000, level: float = 0.95, seed: int = 0) -> dict:
    """mean(ae) / mean(vae) over seeds and its percentile bootstrap interval, resampling seeds in pairs
    (the AE and VAE of one seed share their data)."""
    ae, vae = np.asarray(ae, dtype=np.float64), np.asarray(vae, dtype=np.float64)
    idx = np.random.default_rng(seed).integers(0, len(ae), size=(n, len(ae)))  # (n, seeds)
    ratios = ae[idx].mean(1) / np.maximum(vae[idx].mean(1), 1e-12)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(ratios, [tail, 100 - tail])
    return {"ratio": float(ae.mean() / max(vae.mean(), 1e-12)), "low": float(lo), "high": float(hi), "level": level}


SAME_WITHIN = 0.05  # a ratio whose whole interval lies within 5 % of 1 is "the same"


def ratio_class(ci: dict, seeds: int) -> str:
    """What an AE/VAE ratio of a lower-is-better number supports: one of RATIO_WORDS' keys."""
    if seeds < 2:
        return "one seed"
    if 1 / (1 + SAME_WITHIN) <= ci["low"] and ci["high"] <= 1 + SAME_WITHIN:
        return "same"
    if ci["low"] <= 1 <= ci["high"]:
        return "unclear"
    return "vae" if ci["low"] > 1 else "ae"


RATIO_WORDS = {
    "vae": "the VAE's is lower",
    "ae": "the AE's is lower",
    "same": f"the same (within {SAME_WITHIN:.0%})",
    "unclear": "no clear difference",
    "one seed": "one seed, no interval",
}


def ratio_verdict(what: str, ci: dict, seeds: int) -> str:
    """One sentence on an AE/VAE ratio of a lower-is-better number, honest about its interval."""
    numbers = f"AE/VAE {ci['ratio']:.2f}, {ci['level']:.0%} CI {ci['low']:.2f}-{ci['high']:.2f}, {seeds} seeds"
    return f"{what}: {RATIO_WORDS[ratio_class(ci, seeds)]} ({numbers})."


# (key in the per-seed scores, what it is): every one lower is better.
COMPARED = {
    "c2f_mean_distance": "crescent→full path, mean distance to a real moon",
    "c2f_max_distance": "crescent→full path, worst point",
    "random_mean_distance": "random-pair paths, mean distance",
    "random_max_distance": "random-pair paths, worst point (mean over pairs)",
    "box_half_moon_distance": "closest any decode in the latent box gets to a half moon",
    "prior_standard_coverage_gap": "coverage gap of N(0, I) samples (both models)",
    "prior_fitted_coverage_gap": "coverage gap of fitted-Gaussian samples (both models)",
    "prior_standard": "mean distance of N(0, I) samples (both models)",
    "prior_fitted": "mean distance of fitted-Gaussian samples (both models)",
    "recon_mse": "reconstruction MSE",
}


def comparisons(cells: list[dict], lab: LabConfig) -> list[dict]:
    """Every AE/VAE ratio of COMPARED per regime and latent size, with its bootstrap CI and verdict;
    plus each model under its usual sampler (AE fitted, VAE N(0, I))."""
    out = []
    by_key = {(c["regime"], c["latent_dim"], c["model"]): c["per_seed"] for c in cells}
    for regime in lab.regimes:
        for dim in lab.latent_dims:
            ae, vae = by_key[(regime, dim, "ae")], by_key[(regime, dim, "vae")]
            pairs = {k: (k, k, what) for k, what in COMPARED.items()}
            pairs["own_sampler_gap"] = (
                "prior_fitted_coverage_gap",
                "prior_standard_coverage_gap",
                "coverage gap, each its usual sampler (AE fitted, VAE N(0, I))",
            )
            for name, (ka, kv, what) in pairs.items():
                ci = bootstrap_ratio([s[ka] for s in ae], [s[kv] for s in vae], lab.bootstrap)
                out.append(
                    {
                        "regime": regime,
                        "latent_dim": dim,
                        "metric": name,
                        **ci,
                        "verdict": ratio_verdict(what, ci, len(ae)),
                    }
                )
    return out


def run_lab(lab: LabConfig, out: str | Path, log: Callable[[str], None] = print, progress_bar: bool = False) -> dict:
    out = Path(out)
    started = time.perf_counter()
    results: dict = {"config": asdict(lab), "cells": [], "trained_now": 0, "scored_now": 0}
    for regime in lab.regimes:
        for latent_dim in lab.latent_dims:
            per_seed: dict[str, list[dict]] = {kind: [] for kind in PAIR_KINDS}
            for seed in range(lab.seeds):
                config = lab.pair_config(regime, latent_dim, seed)
                pair_dir = out / "runs" / f"{regime}-{latent_dim}d-s{seed}"
                scores = cached_scores(pair_dir, lab)
                if scores is None:
                    dataset = load_dataset(config.data)
                    if not (pair_dir / "vae.json").is_file():
                        t0 = time.perf_counter()
                        train_and_save(config, pair_dir, dataset=dataset, progress_bar=progress_bar, iwae_k=10)
                        log(f"trained {pair_dir.name} in {time.perf_counter() - t0:.1f} s")
                        results["trained_now"] += 1
                    scores = score_pair(pair_dir, dataset, lab, seed)
                    results["scored_now"] += 1
                for kind in PAIR_KINDS:
                    per_seed[kind].append(scores[kind])
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
    results["comparisons"] = comparisons(results["cells"], lab)
    results["seconds"] = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    _write_atomic(out / "results.json", json.dumps(results, indent=1))
    _write_atomic(out / "results.md", results_markdown(results))
    return results


def _pm(summary: dict, key: str, places: int = 4) -> str:
    return f"{summary[key]['mean']:.{places}f} ± {summary[key]['std']:.{places}f}"


def _count(summary: dict, key: str, seeds: int) -> str:
    return f"{summary[key]['mean'] * seeds:.0f}/{seeds}"


def _header(results: dict) -> list[str]:
    lab = results["config"]
    return [
        "# Half-moon lab results",
        "",
        "Generated from results.json by `training.lab.results_markdown` (no hand-written text): "
        f"`python -m training lab --regimes {','.join(lab['regimes'])} --latent-dims "
        f"{','.join(map(str, lab['latent_dims']))} --seeds {lab['seeds']} --out lab/` "
        f"({lab['epochs']} epochs, {lab['n_train']} training moons, {lab['steps']}-step paths, "
        f"{results['seconds']:.0f} s for this command, which trained {results['trained_now']} and scored "
        f"{results['scored_now']} of the {len(lab['regimes']) * len(lab['latent_dims']) * lab['seeds']} pairs; "
        "the rest it read from lab/runs/*/scores.json, written by the same code with the same settings). "
        f"Mean ± std over {lab['seeds']} seeds.",
        "",
        "Distance: mean squared pixel error to the nearest of 1,000 true renders (0 = a real moon). "
        f"A decode is a *real moon of phase p* when p is its nearest render's phase and it is no further from that "
        f"render than the renders {PHASE_TOLERANCE} of a cycle away are (so an all-black image is not a new moon). "
        f"Half moon: a recovered phase within {HALF_MOON_BAND} of 0.25 or 0.75. *Worst*: the largest distance on "
        "the path. *Box*: a search over the whole latent box (training codes' extent + 10 %: a grid or "
        f"{lab['search_codes']:,} uniform codes, then gradient descent from the best 16) for the decode closest "
        "to a half-moon render. Coverage gap: total variation between the recovered phases of "
        f"{lab['prior_samples']:,} samples (non-moons in their own bin) and the training phases; 0 is perfect.",
    ]


def _path_table(results: dict) -> list[str]:
    seeds = results["config"]["seeds"]
    lines = [
        "",
        "## Paths and the decoder-wide search",
        "",
        "| regime | latent | model | recon MSE | crescent→full mean | worst | passes a real half moon | "
        "closest to a half moon | random-pair mean | random-pair worst | box: closest to a half moon | "
        "box: a real half moon |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cell in results["cells"]:
        s = cell["summary"]
        lines.append(
            f"| {cell['regime']} | {cell['latent_dim']} | {LABELS[cell['model']]} | {_pm(s, 'recon_mse')} | "
            f"{_pm(s, 'c2f_mean_distance')} | {_pm(s, 'c2f_max_distance')} | "
            f"{_count(s, 'c2f_passes_half_moon', seeds)} | {_pm(s, 'c2f_half_moon_miss')} | "
            f"{_pm(s, 'random_mean_distance')} | {_pm(s, 'random_max_distance')} | "
            f"{_pm(s, 'box_half_moon_distance')} | {_count(s, 'box_invents_half_moon', seeds)} |"
        )
    return lines


def _sample_table(results: dict) -> list[str]:
    lines = [
        "",
        "## Prior samples: both samplers for both models",
        "",
        "| regime | latent | model | sampler | mean distance | real moons | half moons (training data) | "
        "coverage gap |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for cell in results["cells"]:
        s = cell["summary"]
        for sampler, name in (("standard", "N(0, I)"), ("fitted", "fitted Gaussian")):
            k = f"prior_{sampler}"
            lines.append(
                f"| {cell['regime']} | {cell['latent_dim']} | {LABELS[cell['model']]} | {name} | {_pm(s, k)} | "
                f"{s[k + '_valid_fraction']['mean']:.0%} | {s[k + '_half_fraction']['mean']:.0%} "
                f"({s[k + '_data_half_fraction']['mean']:.0%}) | {_pm(s, k + '_coverage_gap', 2)} |"
            )
    return lines


SHORT = {
    "c2f_mean_distance": "c2f mean",
    "c2f_max_distance": "c2f worst",
    "random_mean_distance": "random mean",
    "random_max_distance": "random worst",
    "box_half_moon_distance": "box half moon",
    "prior_standard_coverage_gap": "gap N(0,I)",
    "prior_fitted_coverage_gap": "gap fitted",
    "own_sampler_gap": "gap own sampler",
    "prior_standard": "dist N(0,I)",
    "prior_fitted": "dist fitted",
    "recon_mse": "recon MSE",
}


def _ratio_table(results: dict) -> list[str]:
    comps, seeds = results["comparisons"], results["config"]["seeds"]
    metrics = list(dict.fromkeys(c["metric"] for c in comps))
    lines = [
        "",
        "## AE / VAE ratios with 95 % bootstrap intervals over seeds",
        "",
        "Above 1: the VAE's number is lower (better). **Bold**: the interval excludes 1 (and is not within "
        f"{SAME_WITHIN:.0%} of it).",
        "",
        "| regime | latent | " + " | ".join(SHORT.get(m, m) for m in metrics) + " |",
        "|---|---|" + "---|" * len(metrics),
    ]
    cells = list(dict.fromkeys((c["regime"], c["latent_dim"]) for c in comps))
    for regime, dim in cells:
        row = [c for c in comps if (c["regime"], c["latent_dim"]) == (regime, dim)]
        text = [f"{c['ratio']:.2f} ({c['low']:.2f}-{c['high']:.2f})" for c in row]
        text = [f"**{t}**" if ratio_class(c, seeds) in ("ae", "vae") else t for t, c in zip(text, row)]
        lines.append(f"| {regime} | {dim} | " + " | ".join(text) + " |")
    return lines


def _verdicts(results: dict) -> list[str]:
    comps, seeds = results["comparisons"], results["config"]["seeds"]
    lines = ["", "## Verdicts", ""]
    for metric in dict.fromkeys(c["metric"] for c in comps):
        row = [c for c in comps if c["metric"] == metric]
        groups: dict[str, list[str]] = {words: [] for words in RATIO_WORDS.values()}
        for c in row:
            groups[RATIO_WORDS[ratio_class(c, seeds)]].append(f"{c['regime']}-{c['latent_dim']}")
        what = row[0]["verdict"].split(":")[0]
        told = "; ".join(f"{k} in {', '.join(v)}" for k, v in groups.items() if v)
        lines.append(f"- {what[0].upper() + what[1:]}: {told}.")
    for key, what in (
        ("c2f_passes_half_moon", "The crescent→full path passes a real half moon"),
        ("box_invents_half_moon", "Some decode in the latent box is a real half moon"),
    ):
        counts = []
        for regime, dim in dict.fromkeys((c["regime"], c["latent_dim"]) for c in results["cells"]):
            ae, vae = (_cell(results, regime, dim, k) for k in PAIR_KINDS)
            counts.append(f"{regime}-{dim} AE {_count(ae, key, seeds)}, VAE {_count(vae, key, seeds)}")
        lines.append(f"- {what} (seeds): " + "; ".join(counts) + ".")
    return lines


def _cell(results: dict, regime: str, dim: int, kind: str) -> dict:
    return next(c for c in results["cells"] if (c["regime"], c["latent_dim"], c["model"]) == (regime, dim, kind))[
        "summary"
    ]


def results_markdown(results: dict) -> str:
    """lab/results.md, every word and number from results.json."""
    lines = _header(results) + _path_table(results) + _sample_table(results) + _ratio_table(results)
    return "\n".join(lines + _verdicts(results)) + "\n"
