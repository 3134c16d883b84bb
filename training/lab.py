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
from .moons import (
    CRESCENT,
    FULL,
    HALF_MOON_BAND,
    HALF_MOON_PHASES,
    PHASE_TOLERANCE,
    in_training_regime,
    near_half_moon,
    nearest_phase_index,
    phase_neighbourhood,
    render,
)
from .paths import lerp
from .runs import train_and_save
from .sampling import fit_gaussian, gaussian_codes
from .stats import LEVEL, SAME_WITHIN, sign_flip_p, t_interval, t_test_p
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
    skip = ("regimes", "latent_dims", "seeds", "bootstrap", "headline", "headline_seeds")
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


PHASES = np.linspace(0.0, 1.0, 51)  # the phase curve's renders: every 0.02 of a cycle, both ends the new moon


def _curve_settings(lab: LabConfig) -> dict:
    return {"phases": PHASES.tolist(), "image_size": lab.image_size}


@torch.no_grad()
def phase_curve(pair_dir: Path, lab: LabConfig) -> dict | None:
    """Exact log p(x) of fresh renders at every phase of PHASES under a 2-D pair's VAE, kept in
    pair_dir/phase_curve.json (reused while the settings are unchanged); None without a 2-D VAE."""
    cache = pair_dir / "phase_curve.json"
    if cache.is_file():
        saved = json.loads(cache.read_text())
        if saved.get("settings") == _curve_settings(lab):
            return saved["curve"]
    if not (pair_dir / "vae.json").is_file():
        return None
    vae = load_set(pair_dir)["vae"].model
    if vae.latent_dim != 2:
        return None
    from .inference import exact_log_px

    x = torch.from_numpy(render(PHASES, lab.image_size))[:, None]  # (P, 1, H, W)
    exact = exact_log_px(vae, x)
    curve = {"log_px": exact.log_px.tolist(), "error": exact.error.tolist()}
    _write_atomic(cache, json.dumps({"settings": _curve_settings(lab), "curve": curve}))
    return curve


def phase_curves(lab: LabConfig, out: Path) -> dict:
    """log p(x) over phase for the 2-D VAEs of each regime (every seed whose pair is in out/runs), and how
    much less the half-moon phases get than the training phases (phase_finding)."""
    found = {}
    if 2 not in lab.latent_dims:
        return found
    for regime in lab.regimes:
        seeds, curves, errors = [], [], []
        for seed in range(lab.seeds_for(regime, 2)):
            curve = phase_curve(out / "runs" / f"{regime}-2d-s{seed}", lab)
            if curve is not None:
                seeds.append(seed)
                curves.append(curve["log_px"])
                errors.append(max(curve["error"]))
        if curves:
            found[regime] = {
                "phases": PHASES.tolist(),
                "seeds": seeds,
                "log_px": curves,  # (seeds, phases) nats
                "max_error": max(errors),
                **phase_finding(regime, np.array(curves)),
            }
    return found


def phase_finding(regime: str, log_px: np.ndarray) -> dict:
    """Per seed, mean log p(x) over the half-moon phases minus that over the training phases away from
    a half moon (nats per image); over seeds, its mean with t-interval and t-test p. In `gap` and
    `sparse` the half moons were never seen; in `full` they were: the control for how hard a half moon
    is to model at all."""
    half = near_half_moon(PHASES)
    seen = in_training_regime(PHASES, regime) & ~half
    drop = log_px[:, half].mean(1) - log_px[:, seen].mean(1)  # (seeds,)
    mean, low, high = t_interval(drop)
    return {
        "half_minus_seen": drop.tolist(),
        "difference": mean,
        "low": low,
        "high": high,
        "p": t_test_p(drop),
        "half_moon_log_px": float(log_px[:, half].mean()),
        "seen_log_px": float(log_px[:, seen].mean()),
    }


def phase_sentence(regime: str, f: dict) -> str:
    """One sentence from a regime's phase finding: the verdict in bold only where it holds at 5 %."""
    seen = "seen in training" if regime == "full" else "never seen in training"
    decided = f["p"] < 0.05 and not f["low"] <= 0 <= f["high"]
    if decided:
        words = "**less**" if f["difference"] < 0 else "**more**"
        told = f"get {words} density than the training phases away from a half moon"
    else:
        told = "get no clearly different density from the training phases away from a half moon"
    return (
        f"{regime}: half-moon phases ({seen}) {told}: {f['difference']:+.1f} nats per image "
        f"({LEVEL:.0%} t-interval {f['low']:+.1f} to {f['high']:+.1f}, t-test p = {f['p']:.2g}, "
        f"{len(f['half_minus_seen'])} seeds; mean log p(x) {f['half_moon_log_px']:.1f} against {f['seen_log_px']:.1f})."
    )


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


def paired_ratio(ae, vae, floor: float = 0.0, level: float = LEVEL) -> dict:
    """AE/VAE ratio of a lower-is-better number over seeds paired by their data (the AE and VAE of one
    seed share it): the geometric mean of the per-seed ratios with a t-interval on their logs, and the
    exact sign-flip p of those logs. Values under floor (the measurement's resolution) count as floor,
    so differences the measurement cannot see are ties, not verdicts."""
    ae = np.maximum(np.asarray(ae, dtype=np.float64), max(floor, 1e-12))
    vae = np.maximum(np.asarray(vae, dtype=np.float64), max(floor, 1e-12))
    logs = np.log(ae / vae)
    mean, low, high = t_interval(logs, level)
    return {
        "ratio": float(np.exp(mean)),
        "low": float(np.exp(low)),
        "high": float(np.exp(high)),
        "level": level,
        "p": sign_flip_p(logs),
        "seeds": len(logs),
        "floor": floor,
        "resolved": bool(floor == 0 or (ae > floor).any() or (vae > floor).any()),
    }


def ratio_class(ci: dict) -> str:
    """What an AE/VAE ratio of a lower-is-better number supports: one of RATIO_WORDS' keys. A side
    wins only where the sign-flip test holds at 5 % and the t-interval excludes 1."""
    if ci["seeds"] < 2:
        return "one seed"
    if not ci["resolved"]:
        return "resolution"
    if ci["p"] < 0.05 and not ci["low"] <= 1 <= ci["high"]:
        return "vae" if ci["low"] > 1 else "ae"
    if 1 / (1 + SAME_WITHIN) <= ci["low"] and ci["high"] <= 1 + SAME_WITHIN:
        return "same"
    return "few" if 2 / 2 ** ci["seeds"] >= 0.05 else "unclear"


RATIO_WORDS = {
    "vae": "the VAE's is lower",
    "ae": "the AE's is lower",
    "same": f"the same (within {SAME_WITHIN:.0%})",
    "unclear": "no clear difference",
    "few": "no clear difference (too few seeds for p < 0.05)",
    "resolution": "both reach a real half moon",
    "one seed": "one seed, no interval",
}


def ratio_numbers(ci: dict) -> str:
    floor = f"; under {ci['floor']:.4f} counts as {ci['floor']:.4f}" if ci["floor"] else ""
    return (
        f"AE/VAE {ci['ratio']:.2f}, {ci['level']:.0%} t-interval {ci['low']:.2f}-{ci['high']:.2f}, "
        f"sign-flip p = {ci['p']:.3f}, {ci['seeds']} seeds{floor}"
    )


def ratio_verdict(what: str, ci: dict) -> str:
    """One sentence on an AE/VAE ratio of a lower-is-better number: the verdict in bold only where it
    holds at 5 %; else "no clear difference", "the same", or below the measurement's resolution."""
    cls = ratio_class(ci)
    words = f"**{RATIO_WORDS[cls]}**" if cls in ("ae", "vae") else RATIO_WORDS[cls]
    return f"{what}: {words} ({ratio_numbers(ci)})."


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


def half_moon_tolerance(image_size: int) -> float:
    """The real-moon tolerance at a half moon: how far a render moves in PHASE_TOLERANCE of a cycle
    there (0.0056 at 28 px). A decode this close to a half-moon render is a real half moon, so two
    models under it both reach one, whatever their ratio."""
    return float(phase_neighbourhood(np.array([HALF_MOON_PHASES[0]]), image_size)[0])


def comparisons(cells: list[dict], lab: LabConfig) -> list[dict]:
    """Every AE/VAE ratio of COMPARED per regime and latent size, with its t-interval, sign-flip p and
    verdict; plus each model under its usual sampler (AE fitted, VAE N(0, I))."""
    out = []
    floors = {"box_half_moon_distance": half_moon_tolerance(lab.image_size)}
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
                ci = paired_ratio([s[ka] for s in ae], [s[kv] for s in vae], floors.get(name, 0.0))
                out.append(
                    {"regime": regime, "latent_dim": dim, "metric": name, **ci, "verdict": ratio_verdict(what, ci)}
                )
    return out


def run_lab(lab: LabConfig, out: str | Path, log: Callable[[str], None] = print, progress_bar: bool = False) -> dict:
    out = Path(out)
    started = time.perf_counter()
    results: dict = {"config": asdict(lab), "cells": [], "trained_now": 0, "scored_now": 0}
    for regime in lab.regimes:
        for latent_dim in lab.latent_dims:
            per_seed: dict[str, list[dict]] = {kind: [] for kind in PAIR_KINDS}
            for seed in range(lab.seeds_for(regime, latent_dim)):
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
    results["phase_curves"] = phase_curves(lab, out)
    results["seconds"] = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    _write_atomic(out / "results.json", json.dumps(results, indent=1))
    _write_atomic(out / "results.md", results_markdown(results))
    return results


def _pm(summary: dict, key: str, places: int = 4) -> str:
    return f"{summary[key]['mean']:.{places}f} ± {summary[key]['std']:.{places}f}"


def _count(summary: dict, key: str, seeds: int) -> str:
    return f"{summary[key]['mean'] * seeds:.0f}/{seeds}"


def lab_command(lab: dict) -> str:
    """The command that writes these results (lab: the results' config)."""
    headline = lab.get("headline", ())
    extra = (
        f" --headline {','.join(headline)} --headline-seeds {lab['headline_seeds']}" if headline else " --headline ''"
    )
    return (
        f"python -m training lab --regimes {','.join(lab['regimes'])} --latent-dims "
        f"{','.join(map(str, lab['latent_dims']))} --seeds {lab['seeds']}{extra} --out lab/"
    )


def _headline(lab: dict) -> str:
    headline = lab.get("headline", ())
    if not headline:
        return "every cell alike"
    return f"{max(lab['seeds'], lab['headline_seeds'])} seeds in the headline cells {', '.join(headline)}"


def _seeds(cell: dict) -> int:
    return len(cell["per_seed"])


def _header(results: dict) -> list[str]:
    lab = results["config"]
    return [
        "# Half-moon lab results",
        "",
        "Generated from results.json by `training.lab.results_markdown` (no hand-written text): "
        f"`{lab_command(lab)}` "
        f"({lab['epochs']} epochs, {lab['n_train']} training moons, {lab['steps']}-step paths, "
        f"{results['seconds']:.0f} s for this command, which trained {results['trained_now']} and scored "
        f"{results['scored_now']} of the {sum(len(c['per_seed']) for c in results['cells']) // 2} pairs; "
        "the rest it read from lab/runs/*/scores.json, written by the same code with the same settings). "
        f"Mean ± std over {lab['seeds']} seeds; {_headline(lab)}.",
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
        s, seeds = cell["summary"], _seeds(cell)
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
    comps = results["comparisons"]
    metrics = list(dict.fromkeys(c["metric"] for c in comps))
    lines = [
        "",
        f"## AE / VAE ratios over seeds: {LEVEL:.0%} t-intervals and exact sign-flip p",
        "",
        "Each cell: the geometric mean over seeds of the per-seed AE/VAE ratio, its t-interval (on the logs), "
        "and the exact two-sided p of a paired sign-flip test (all 2^n sign patterns of the seeds' log-ratios; "
        "with 5 seeds it cannot go below 0.0625, with 10 below 0.002). Above 1: the VAE's number is lower "
        "(better). **Bold**: the test holds at 5 % and the interval excludes 1. *Box*: distances under the "
        f"real-moon tolerance at a half moon ({half_moon_tolerance(results['config']['image_size']):.4f}) count "
        "as that tolerance: both models reach a real half moon there, whatever their ratio.",
        "",
        "| regime | latent | seeds | " + " | ".join(SHORT.get(m, m) for m in metrics) + " |",
        "|---|---|---|" + "---|" * len(metrics),
    ]
    cells = list(dict.fromkeys((c["regime"], c["latent_dim"]) for c in comps))
    for regime, dim in cells:
        row = [c for c in comps if (c["regime"], c["latent_dim"]) == (regime, dim)]
        text = [f"{c['ratio']:.2f} ({c['low']:.2f}-{c['high']:.2f}) p {c['p']:.3f}" for c in row]
        text = [f"**{t}**" if ratio_class(c) in ("ae", "vae") else t for t, c in zip(text, row)]
        lines.append(f"| {regime} | {dim} | {row[0]['seeds']} | " + " | ".join(text) + " |")
    return lines


def _verdicts(results: dict) -> list[str]:
    comps = results["comparisons"]
    lines = ["", "## Verdicts", ""]
    for metric in dict.fromkeys(c["metric"] for c in comps):
        row = [c for c in comps if c["metric"] == metric]
        groups: dict[str, list[str]] = {words: [] for words in RATIO_WORDS.values()}
        for c in row:
            groups[RATIO_WORDS[ratio_class(c)]].append(f"{c['regime']}-{c['latent_dim']}")
        what = row[0]["verdict"].split(":")[0]
        told = "; ".join(
            f"{'**' + k + '**' if k in (RATIO_WORDS['ae'], RATIO_WORDS['vae']) else k} in {', '.join(v)}"
            for k, v in groups.items()
            if v
        )
        lines.append(f"- {what[0].upper() + what[1:]}: {told}.")
    for key, what in (
        ("c2f_passes_half_moon", "The crescent→full path passes a real half moon"),
        ("box_invents_half_moon", "Some decode in the latent box is a real half moon"),
    ):
        counts = []
        for regime, dim in dict.fromkeys((c["regime"], c["latent_dim"]) for c in results["cells"]):
            ae, vae = (_cell(results, regime, dim, k) for k in PAIR_KINDS)
            n = _seeds(_cell_of(results, regime, dim, "ae"))
            counts.append(f"{regime}-{dim} AE {_count(ae, key, n)}, VAE {_count(vae, key, n)}")
        lines.append(f"- {what} (seeds): " + "; ".join(counts) + ".")
    return lines


def _phase_section(results: dict) -> list[str]:
    curves = results.get("phase_curves") or {}
    if not curves:
        return []
    errors = max(c["max_error"] for c in curves.values())
    lines = [
        "",
        "## Density over phase: exact log p(x) of fresh renders (2-D VAEs)",
        "",
        f"Each 2-D VAE's exact log p(x) (quadrature, largest error estimate {errors:.1e} nats) of the true render "
        f"at {len(PHASES)} phases from 0 to 1; per seed, the mean over the half-moon phases (within "
        f"{HALF_MOON_BAND} of 0.25 or 0.75) minus the mean over the training phases away from a half moon. "
        "In `gap` and `sparse` no half moon was seen in training; `full` saw every phase and is the control.",
        "",
    ]
    return lines + [f"- {phase_sentence(regime, f)}" for regime, f in curves.items()]


def _cell_of(results: dict, regime: str, dim: int, kind: str) -> dict:
    return next(c for c in results["cells"] if (c["regime"], c["latent_dim"], c["model"]) == (regime, dim, kind))


def _cell(results: dict, regime: str, dim: int, kind: str) -> dict:
    return _cell_of(results, regime, dim, kind)["summary"]


def results_markdown(results: dict) -> str:
    """lab/results.md, every word and number from results.json."""
    lines = _header(results) + _path_table(results) + _sample_table(results) + _ratio_table(results)
    return "\n".join(lines + _verdicts(results) + _phase_section(results)) + "\n"
