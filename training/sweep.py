"""The beta sweep: VAEs trained at several beta and seeds on one dataset, placed on the rate-distortion
plane of Alemi et al. (2018), "Fixing a broken ELBO".

    python -m training sweep --beta 0.1,0.25,0.5,1,2,4,8 --seeds 3 --dataset digits --out lab/beta

rate R = E_x KL(q(z|x) || p(z)) and distortion D = E_x E_q[-log p(x|z)], nats per test image, so that
-ELBO = R + D: a beta-VAE minimises D + beta R, and each beta picks a different point of the trade-off.
Every run is out/runs/b<beta>-s<seed>/vae.* (a checkpoint); a run already there with the same settings is
read, not retrained, so an interrupted sweep resumes. Writes out/results.json (every number) and
out/results.md (generated from it by results_markdown: no hand-written text).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from .config import RunConfig, SweepConfig, to_dict
from .errors import LatentExplorerError
from .lab import _write_atomic
from .metrics import Budget
from .stats import LEVEL, t_interval, t_test_p

BUNDLED = Path(__file__).resolve().parent.parent / "lab" / "beta"  # the committed sweep (results only)
# The sweep's measurement: the ELBO's two terms on the whole test split from 100 draws per image (as
# `eval`), IWAE on 200 images at k = 1000 (a fifth of eval's k: a sweep measures 21 models).
BUDGET = Budget(elbo_samples=100, n_images=200, iwae_k=1000)
# Which train/data fields make two runs the same setting (device, threads: how, not what, was trained).
_TRAIN_FIELDS = ("epochs", "batch_size", "lr", "seed", "precision", "kl_warmup_epochs", "objective", "iwae_k")


def run_name(beta: float, seed: int) -> str:
    return f"b{beta:g}-s{seed}"


def parse_betas(text: str) -> tuple[float, ...]:
    """--beta 0.1,0.25,1 -> (0.1, 0.25, 1.0); LatentExplorerError naming the bad value."""
    values = []
    for part in (p.strip() for p in text.split(",")):
        try:
            values.append(float(part))
        except ValueError:
            raise LatentExplorerError(
                f"--beta takes comma-separated numbers such as 0.5,1,2; got {part!r}",
                key="err_sweep_beta_text",
                text=repr(part),
            ) from None
    return tuple(values)


def _setting(configs: dict) -> dict:
    """What a run was trained from, in the fields a sweep fixes; configs: the sidecar's model, data and train
    dicts, read through the dataclasses so that a field added since the run was saved takes its default."""
    from .config import DataConfig, ModelConfig, TrainConfig, from_dict

    model, data, train = (
        to_dict(from_dict(cls, configs[name]))
        for cls, name in ((ModelConfig, "model"), (DataConfig, "data"), (TrainConfig, "train"))
    )
    return json.loads(
        json.dumps(
            {
                "model": {k: v for k, v in model.items() if k not in ("in_shape", "n_classes")},
                "data": data,
                "train": {k: train[k] for k in _TRAIN_FIELDS},
            }
        )
    )


def _wanted(config: RunConfig) -> dict:
    return _setting({k: to_dict(getattr(config, k)) for k in ("model", "data", "train")})


def saved_run(folder: Path, config: RunConfig) -> dict | None:
    """A finished run's sidecar when folder holds one of this setting; None when there is none; a
    LatentExplorerError when it holds another setting's (never overwritten: the sweep's out is wrong)."""
    from .checkpoint import read_sidecar

    if not (folder / "vae.json").is_file():
        return None
    sidecar = read_sidecar(folder / "vae")  # schema-checked: a broken one is refused with its reason
    if _setting(sidecar) != _wanted(config):
        raise LatentExplorerError(
            f"{folder} holds a run of other settings than this sweep's; choose another --out or remove it",
            key="err_sweep_other_settings",
            folder=str(folder),
        )
    return sidecar


def run_row(beta: float, seed: int, sidecar: dict) -> dict:
    """One run's numbers for results.json, from its sidecar."""
    m = sidecar["metrics"]
    return {
        "beta": beta,
        "seed": seed,
        "run": run_name(beta, seed),
        "rate": m["rate"],
        "distortion": m["distortion"],
        "elbo": m["elbo"],
        "elbo_se": m["elbo_se"],
        "n_images": m.get("elbo_n_images", m["n_images"]),  # test images the ELBO's terms average over
        "elbo_samples": m["elbo_samples"],
        "iwae_nll": m["iwae_nll"],
        "iwae_k": m["iwae_k"],
        "active_units": m["active_units"],
        "latent_dim": m["latent_dim"],
        "kl_per_dim": m["kl_per_dim"],
        "train_seconds": m["train_seconds"],
    }


class Interval(NamedTuple):
    mean: float
    low: float
    high: float


@dataclass
class BetaSummary:
    """One beta's seeds summarised: means with Student-t intervals over seeds (zero width for one seed)."""

    beta: float
    seeds: int
    rate: Interval
    distortion: Interval
    active_units: tuple[float, int, int]  # mean, min, max over seeds
    latent_dim: int
    runs: list[str] = field(default_factory=list)  # the runs' names (hover)
    per_seed: list[tuple[float, float]] = field(default_factory=list)  # (rate, distortion) of each seed


def summarise_beta(beta: float, rows: list[dict]) -> BetaSummary:
    """rows: one beta's runs, each with rate, distortion, active_units, latent_dim and a name (run)."""
    return BetaSummary(
        beta=beta,
        seeds=len(rows),
        rate=Interval(*t_interval([r["rate"] for r in rows])),
        distortion=Interval(*t_interval([r["distortion"] for r in rows])),
        active_units=(
            float(np.mean([r["active_units"] for r in rows])),
            min(r["active_units"] for r in rows),
            max(r["active_units"] for r in rows),
        ),
        latent_dim=rows[0]["latent_dim"],
        runs=[r["run"] for r in rows],
        per_seed=[(r["rate"], r["distortion"]) for r in rows],
    )


def versus_beta_one(rows: list[dict], beta: float) -> dict | None:
    """ELBO at beta minus ELBO at beta = 1, paired by seed (same data split and initial weights): mean,
    t-interval and t-test p; None without a beta = 1 run of the same seeds."""
    ones = {r["seed"]: r["elbo"] for r in rows if r["beta"] == 1.0}
    here = {r["seed"]: r["elbo"] for r in rows if r["beta"] == beta}
    seeds = sorted(set(ones) & set(here))
    if beta == 1.0 or not seeds:
        return None
    d = np.array([here[s] - ones[s] for s in seeds])
    mean, low, high = t_interval(d)
    return {"difference": mean, "low": low, "high": high, "p": t_test_p(d), "seeds": len(seeds)}


def elbo_words(c: dict) -> str:
    """What a paired ELBO difference supports: lower/higher only where p < 0.05 and the interval excludes 0."""
    if c["seeds"] < 2:
        return "one seed, no interval"
    if c["p"] < 0.05 and not c["low"] <= 0 <= c["high"]:
        return "higher than at β = 1" if c["difference"] > 0 else "lower than at β = 1"
    return "no clear difference from β = 1"


def run_sweep(sweep: SweepConfig, out: str | Path, log: Callable[[str], None] = print) -> dict:
    """Train (or read) every run of the sweep, then write out/results.json and out/results.md."""
    from .checkpoint import read_sidecar
    from .runs import train_and_save

    out = Path(out)
    started = time.perf_counter()
    rows, trained = [], 0
    for beta in sweep.betas:
        for seed in range(sweep.seeds):
            config, folder = sweep.run_config(beta, seed), out / "runs" / run_name(beta, seed)
            sidecar = saved_run(folder, config)
            if sidecar is None:
                t0 = time.perf_counter()
                train_and_save(config, folder, ("vae",), progress_bar=False, budget=BUDGET)
                sidecar = read_sidecar(folder / "vae")
                trained += 1
                log(f"trained {folder.name} in {time.perf_counter() - t0:.1f} s")
            rows.append(run_row(beta, seed, sidecar))
    results = {
        "config": json.loads(json.dumps(asdict(sweep))),
        "level": LEVEL,
        "runs": rows,
        "trained_now": trained,
        "seconds": time.perf_counter() - started,
    }
    out.mkdir(parents=True, exist_ok=True)
    _write_atomic(out / "results.json", json.dumps(results, indent=1) + "\n")
    _write_atomic(out / "results.md", results_markdown(results))
    return results


def by_beta(rows: list[dict]) -> list[BetaSummary]:
    """Runs summarised per beta, in increasing beta."""
    betas = sorted({r["beta"] for r in rows})
    return [summarise_beta(b, [r for r in rows if r["beta"] == b]) for b in betas]


def summaries(results: dict) -> list[BetaSummary]:
    return by_beta(results["runs"])


def curves(points: list, names: list[str]) -> dict[str, list[BetaSummary]]:
    """The app's runs on the plane: store.RunPoint of each VAE (names: their run folders) grouped into one
    curve per setting (what they share besides beta and seed), each summarised per beta."""
    rows: dict[str, list[dict]] = {}
    for p, name in zip(points, names):
        rows.setdefault(p.setting, []).append({**p._asdict(), "run": name})
    return {setting: by_beta(found) for setting, found in sorted(rows.items())}


def sweep_setting(config: dict) -> str:
    """A sweep's setting as store.run_setting words it for a run in the app (its curve's name)."""
    from .config import from_dict
    from .store import run_setting

    sweep = from_dict(SweepConfig, config)
    run = sweep.run_config(sweep.betas[0], 0)
    return run_setting({k: to_dict(getattr(run, k)) for k in ("model", "data", "train")})


def sweep_command(config: dict, out: str = "lab/beta") -> str:
    """The command that writes these results (config: the results' config)."""
    extra = f" --regime {config['regime']}" if config["dataset"] == "moons" else ""
    n = f" --n-train {config['n_train']}" if config["n_train"] else ""
    return (
        f"python -m training sweep --beta {','.join(f'{b:g}' for b in config['betas'])} --seeds {config['seeds']} "
        f"--dataset {config['dataset']}{extra} --latent-dim {config['latent_dim']} "
        f"--hidden {','.join(map(str, config['hidden']))} --epochs {config['epochs']} "
        f"--batch-size {config['batch_size']} --lr {config['lr']:g}{n} --out {out}"
    )


def _f(v: float) -> str:
    return f"{round(v, 2) + 0.0:.2f}"  # + 0.0: no "-0.00" for an interval's end a hair below 0


def _ci(i: Interval) -> str:
    return f"{_f(i.mean)} ({_f(i.low)} to {_f(i.high)})"


def summary_table(results: dict) -> list[str]:
    """The per-beta table (README's block and results.md's first table)."""
    rows = results["runs"]
    lines = [
        f"| β | seeds | rate R, nats ({results['level']:.0%} CI) | distortion D, nats | -ELBO = R + D | "
        "ELBO − ELBO(β = 1), paired | active units |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summaries(results):
        elbo = Interval(*t_interval([-(r["rate"] + r["distortion"]) for r in rows if r["beta"] == s.beta]))
        c = versus_beta_one(rows, s.beta)
        if c is None:
            versus = "(reference)" if s.beta == 1.0 else "-"
        else:
            words = elbo_words(c)
            words = f"**{words}**" if "than" in words else words
            versus = f"{c['difference']:+.2f} ({c['low']:+.2f} to {c['high']:+.2f}, p = {c['p']:.2g}): {words}"
        mean, low, high = s.active_units
        beta = f"**{s.beta:g}**" if s.beta == 1.0 else f"{s.beta:g}"
        lines.append(
            f"| {beta} | {s.seeds} | {_ci(s.rate)} | {_ci(s.distortion)} | {-elbo.mean:.2f} | {versus} | "
            f"{mean:.1f} ({low}-{high}) of {s.latent_dim} |"
        )
    return lines


def trend_sentence(results: dict) -> str:
    """Where the sweep's ends lie, in numbers: rate and distortion at the smallest and largest beta."""
    ends = summaries(results)
    lo, hi = min(ends, key=lambda s: s.beta), max(ends, key=lambda s: s.beta)
    best = max(ends, key=lambda s: -(s.rate.mean + s.distortion.mean))
    return (
        f"From β = {lo.beta:g} to β = {hi.beta:g} the rate goes from {lo.rate.mean:.2f} to {hi.rate.mean:.2f} nats "
        f"and the distortion from {lo.distortion.mean:.2f} to {hi.distortion.mean:.2f} nats; active units from "
        f"{lo.active_units[0]:.1f} to {hi.active_units[0]:.1f} of {lo.latent_dim}. The highest mean ELBO "
        f"({-(best.rate.mean + best.distortion.mean):.2f} nats) is at β = {best.beta:g}."
    )


def results_markdown(results: dict) -> str:
    """out/results.md, every word and number from results.json."""
    config = results["config"]
    trained = results["trained_now"]
    train_seconds = sum(r["train_seconds"] for r in results["runs"])
    images = sorted({r["n_images"] for r in results["runs"]})
    draws = sorted({r["elbo_samples"] for r in results["runs"]})
    lines = [
        "# β sweep: the rate-distortion plane",
        "",
        f"Generated from results.json by `training.sweep.results_markdown` (no hand-written text): "
        f"`{sweep_command(config)}` ({len(results['runs'])} VAEs, {train_seconds:.0f} s of training in all; this "
        f"command took {results['seconds']:.0f} s and trained {trained}, reading the rest from their checkpoints "
        "under runs/).",
        "",
        "Rate R = KL(q(z|x) ‖ p(z)) and distortion D = E_q[-log p(x|z)] (Bernoulli), nats per test image, "
        f"averaged over {' or '.join(map(str, images))} test images spread through the split with "
        f"{' or '.join(map(str, draws))} draws of z per image; -ELBO = R + D (Alemi et al. 2018). "
        f"Intervals: {results['level']:.0%} Student-t over seeds. The ELBO against β = 1 is paired by seed (each "
        "seed fixes the data split, initial weights and batch order); a side is named only where the t-test "
        "gives p < 0.05 and the interval excludes 0. Active units: latent dimensions whose posterior mean "
        "varies across the test images (variance > 0.01), mean over seeds (range).",
        "",
        *summary_table(results),
        "",
        trend_sentence(results),
        "",
        "## Every run",
        "",
        "| run | β | seed | rate | distortion | ELBO ± s.e. | IWAE NLL | active units | train s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["runs"]:
        lines.append(
            f"| {r['run']} | {r['beta']:g} | {r['seed']} | {r['rate']:.3f} | {r['distortion']:.3f} | "
            f"{r['elbo']:.3f} ± {r['elbo_se']:.3f} | {r['iwae_nll']:.3f} (k = {r['iwae_k']}) | "
            f"{r['active_units']}/{r['latent_dim']} | {r['train_seconds']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def read_results(path: Path = BUNDLED / "results.json") -> dict | None:
    """A sweep's results.json (the committed one by default), or None when absent or not a sweep's."""
    try:
        results = json.loads(path.read_text())
        rows = results["runs"]
        ok = all(
            isinstance(r[k], (int, float)) and math.isfinite(r[k])
            for r in rows
            for k in ("beta", "rate", "distortion", "active_units", "latent_dim")
        )
        return results if ok and rows and isinstance(results["config"]["dataset"], str) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
