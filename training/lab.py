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

from .bank import BANK_PHASES, Bank, bank_for
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
from .stats import LEVEL, SAME_WITHIN, sign_flip_floor, sign_flip_p, t_interval, t_test_p
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


def pair_cost(pair_dir: Path) -> dict | None:
    """What training a pair cost, from its sidecars: each model's training seconds, threads, and when it
    was saved. Copied into scores.json, so the record outlives the weights (the lab's folders of seeds 0-4
    were removed once scored, and their cost with them); None when neither holds it."""
    from .checkpoint import read_sidecar

    cache = pair_dir / "scores.json"
    saved = json.loads(cache.read_text()) if cache.is_file() else None
    if not all((pair_dir / f"{kind}.json").is_file() for kind in PAIR_KINDS):
        return (saved or {}).get("cost")
    sidecars = {kind: read_sidecar(pair_dir / kind) for kind in PAIR_KINDS}
    cost = {
        **{f"{kind}_seconds": float(sidecars[kind]["metrics"]["train_seconds"]) for kind in PAIR_KINDS},
        "threads": int(sidecars["vae"]["train"].get("threads") or 1),
        "trained": max(str(sidecars[kind].get("created", "")) for kind in PAIR_KINDS),
    }
    if saved is not None and saved.get("cost") != cost:
        _write_atomic(cache, json.dumps({**saved, "cost": cost}))
    return cost


PHASES = np.linspace(0.0, 1.0, 51)  # the phase curve's renders: every 0.02 of a cycle, both ends the new moon


def _curve_settings(lab: LabConfig) -> dict:
    return {"phases": PHASES.tolist(), "image_size": lab.image_size}


@torch.no_grad()
def phase_curve(pair_dir: Path, lab: LabConfig, cache: Path | None = None) -> dict | None:
    """Exact log p(x) of fresh renders at every phase of PHASES under a 2-D pair's VAE, kept in
    pair_dir/phase_curve.json (reused while the settings are unchanged); None without a 2-D VAE of the
    renders' size. cache: keep it there instead (a bundled set's folder is not the lab's to write); the
    VAE's weights then join the settings, so new weights are measured anew."""
    from .checkpoint import read_sidecar

    settings = _curve_settings(lab)
    if cache is not None:
        if not (pair_dir / "vae.json").is_file():
            return None
        settings["weights"] = read_sidecar(pair_dir / "vae")["weights_sha256"]
    cache = cache or pair_dir / "phase_curve.json"
    if cache.is_file():
        saved = json.loads(cache.read_text())
        if saved.get("settings") == settings:
            return saved["curve"]
    if not (pair_dir / "vae.json").is_file():
        return None
    vae = load_set(pair_dir)["vae"].model
    if vae.latent_dim != 2 or tuple(vae.config.in_shape) != (1, lab.image_size, lab.image_size):
        return None
    from .inference import exact_log_px

    x = torch.from_numpy(render(PHASES, lab.image_size))[:, None]  # (P, 1, H, W)
    exact = exact_log_px(vae, x)
    curve = {"log_px": exact.log_px.tolist(), "error": exact.error.tolist()}
    cache.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(cache, json.dumps({"settings": settings, "curve": curve}))
    return curve


# The bundled sparse 2-D VAE of each posterior family, and the one trained on IWAE-50 (issue 28): the same
# data, architecture, seed and schedule (training.runs.DEFAULTS), one trained model each.
FAMILY_SETS = {
    "diag": "moons-sparse-2d",
    "full": "moons-sparse-2d-full",
    "flow": "moons-sparse-2d-flow",
    "iwae50": "moons-sparse-2d-iwae50",
}
FAMILY_REGIME = "sparse"


def family_curves(lab: LabConfig, out: Path, root: Path | None = None) -> dict:
    """log p(x) over phase under each of FAMILY_SETS (in root, default the bundled sets), with the same
    finding as phase_curves; kept in out/runs/family-<set>.json. One model each: no band over seeds."""
    from .store import BUNDLED

    found = {}
    if FAMILY_REGIME not in lab.regimes or 2 not in lab.latent_dims:
        return found
    for family, name in FAMILY_SETS.items():
        curve = phase_curve((root or BUNDLED) / name, lab, cache=out / "runs" / f"family-{name}.json")
        if curve is not None:
            log_px = np.array([curve["log_px"]])  # (1, phases)
            found[family] = {
                "set": name,
                "phases": PHASES.tolist(),
                "seeds": [0],
                "log_px": log_px.tolist(),
                "max_error": max(curve["error"]),
                **phase_finding(FAMILY_REGIME, log_px),
            }
    return found


def family_sentence(family: str, f: dict, reference: dict | None) -> str:
    """A family's half-moon density against its training phases, and against the diagonal VAE's: one
    trained model each, so the only uncertainty is the quadrature's."""
    against = (
        f"; {f['half_moon_log_px'] - reference['half_moon_log_px']:+.1f} nats on the half moons and "
        f"{f['seen_log_px'] - reference['seen_log_px']:+.1f} on the training phases against the diagonal Gaussian's"
        if reference is not None and reference is not f
        else ""
    )
    return (
        f"{FAMILY_WORDS[family]} (`{f['set']}`): half-moon phases {f['difference']:+.1f} nats per image against the "
        f"training phases away from a half moon (mean log p(x) {f['half_moon_log_px']:.1f} against "
        f"{f['seen_log_px']:.1f}{against}; one trained model, no interval over seeds; quadrature error under "
        f"{f['max_error']:.1e} nats)."
    )


FAMILY_WORDS = {
    "diag": "diagonal Gaussian",
    "full": "full-covariance Gaussian",
    "flow": "normalising flow",
    "iwae50": "diagonal Gaussian, IWAE-50 trained",
}


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
    return "few" if sign_flip_floor(ci["seeds"]) >= 0.05 else "unclear"


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
    results: dict = {"config": asdict(lab), "cells": [], "trained_now": 0, "scored_now": 0, "costs": {}}
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
                cost = pair_cost(pair_dir)
                if cost is not None:
                    results["costs"][pair_dir.name] = cost
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
    results["family_curves"] = family_curves(lab, out)
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


def _pairs(results: dict) -> int:
    return sum(len(c["per_seed"]) for c in results["cells"]) // 2


def _seed_runs(seeds: list[int]) -> str:
    """[3, 4, 5, 9] -> "3-5, 9"."""
    runs: list[list[int]] = []
    for seed in sorted(seeds):
        if runs and seed == runs[-1][-1] + 1:
            runs[-1].append(seed)
        else:
            runs.append([seed])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def _cost_cells(costs: dict) -> str:
    """Which pairs have a cost record, by cell: "gap-2 seeds 3-9, sparse-2 seeds 3-9"."""
    cells: dict[str, list[int]] = {}
    for name in costs:
        cell, seed = name.rsplit("-s", 1)
        cells.setdefault(cell.removesuffix("d"), []).append(int(seed))
    return ", ".join(f"{cell} seeds {_seed_runs(seeds)}" for cell, seeds in cells.items())


def cost_text(results: dict) -> str:
    """What training the lab's pairs cost, from their records (pair_cost), not this pass's wall clock."""
    costs, pairs = results.get("costs") or {}, _pairs(results)
    if not costs:
        return f"Training cost: none of the {pairs} pairs kept a record of it."
    per_model = {kind: [c[f"{kind}_seconds"] for c in costs.values()] for kind in PAIR_KINDS}
    total = sum(map(sum, per_model.values()))
    spans = ", ".join(
        f"{LABELS[kind]} median {np.median(v):.0f} s ({min(v):.0f} to {max(v):.0f} s)" for kind, v in per_model.items()
    )
    when = sorted(c["trained"][:16].replace("T", " ") for c in costs.values())
    last = when[-1][11:] if when[-1][:10] == when[0][:10] else when[-1]
    threads = sorted({c["threads"] for c in costs.values()})
    missing = pairs - len(costs)
    rest = (
        f" The other {missing} pairs' cost was not kept: their folders were removed once scored, before the lab "
        "copied it into scores.json."
        if missing > 0
        else ""
    )
    return (
        f"Training cost, from the pairs' own records (each model's training time in its sidecar, "
        f"{'/'.join(map(str, threads))} thread{'s' if threads != [1] else ''}, beside other work): {len(costs)} of "
        f"the {pairs} pairs ({_cost_cells(costs)}); per pair {spans}; {total:.0f} s of training in all; "
        f"saved {when[0]} to {last} UTC (each pair in lab/results.md, Training cost).{rest}"
    )


def _cost_table(results: dict) -> list[str]:
    costs = results.get("costs") or {}
    if not costs:
        return []
    lines = [
        "",
        "## Training cost",
        "",
        "| pair | " + " | ".join(f"{LABELS[kind]} training, s" for kind in PAIR_KINDS) + " | threads | saved (UTC) |",
        "|---|" + "---|" * len(PAIR_KINDS) + "---|---|",
    ]
    for name, c in sorted(
        costs.items(), key=lambda item: (item[0].rsplit("-s", 1)[0], int(item[0].rsplit("-s", 1)[1]))
    ):
        times = " | ".join(f"{c[f'{kind}_seconds']:.0f}" for kind in PAIR_KINDS)
        lines.append(f"| {name} | {times} | {c['threads']} | {c['trained'][:16].replace('T', ' ')} |")
    return lines


def method_text(lab: dict) -> str:
    """What the lab command does, every number from the results' config (the README's lab block)."""
    n, headline = lab["seeds"], lab.get("headline", ())
    more = (
        f"; the headline cells {', '.join(headline)} run {lab['headline_seeds']} seeds, where it can reach "
        f"{sign_flip_floor(lab['headline_seeds']):.2g}"
        if headline
        else ""
    )
    return (
        f"trains an AE/VAE pair for every regime, latent size and seed ({lab['epochs']} epochs each, "
        f"{lab['n_train']:,} training moons) and scores them on the test split, which covers every phase. A decoded "
        f"image's *distance* is its mean squared pixel error to the nearest of {BANK_PHASES:,} true renders; its "
        "*recovered phase* is that render's phase. For each model: the straight path between a crescent's and a full "
        f"moon's codes ({lab['steps']} steps), {lab['random_pairs']} random pairs, a search of the whole latent box "
        f"({lab['search_codes']:,} codes) for the decode closest to a half moon, and {lab['prior_samples']:,} prior "
        f"samples; for the 2-D VAEs, the exact log p(x) of fresh renders at {len(PHASES)} phases over the whole "
        "cycle. Each AE/VAE comparison is a ratio over seeds paired by their data, with a t-interval on the "
        "log-ratios and the exact p of a sign-flip test over all 2^n sign patterns: with "
        f"{n} seeds that p cannot go below {sign_flip_floor(n):.4g}, so a verdict (in bold) needs more seeds{more}."
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
        f"({lab['epochs']} epochs, {lab['n_train']} training moons, {lab['steps']}-step paths; "
        f"{_pairs(results)} pairs, of which this pass trained {results['trained_now']} and scored "
        f"{results['scored_now']}, reading the rest from lab/runs/*/scores.json, written by the same code with the "
        f"same settings). Mean ± std over {lab['seeds']} seeds; {_headline(lab)}. {cost_text(results)}",
        "",
        f"Distance: mean squared pixel error to the nearest of {BANK_PHASES:,} true renders (0 = a real moon). "
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
        + "; ".join(
            f"with {n} seeds it cannot go below {sign_flip_floor(n):.3g}" for n in sorted({c["seeds"] for c in comps})
        )
        + "). Above 1: the VAE's number is lower "
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
    lines += [f"- {phase_sentence(regime, f)}" for regime, f in curves.items()]
    return lines + _family_lines(results)


def _family_lines(results: dict) -> list[str]:
    families = results.get("family_curves") or {}
    if not families:
        return []
    return [
        "",
        f"The same under the bundled `{FAMILY_REGIME}` 2-D VAE of each posterior family (and the diagonal one "
        "trained on IWAE-50), on the same data, architecture, seed and schedule:",
        "",
    ] + [f"- {family_sentence(k, f, families.get('diag'))}" for k, f in families.items()]


def _cell_of(results: dict, regime: str, dim: int, kind: str) -> dict:
    return next(c for c in results["cells"] if (c["regime"], c["latent_dim"], c["model"]) == (regime, dim, kind))


def _cell(results: dict, regime: str, dim: int, kind: str) -> dict:
    return _cell_of(results, regime, dim, kind)["summary"]


def results_markdown(results: dict) -> str:
    """lab/results.md, every word and number from results.json."""
    lines = _header(results) + _path_table(results) + _sample_table(results) + _ratio_table(results)
    return "\n".join(lines + _verdicts(results) + _phase_section(results) + _cost_table(results)) + "\n"
