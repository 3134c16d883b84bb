"""Command line: python -m training, or latent-explorer once installed, {serve,train,eval,lab,sweep,defaults,
import-onnx,import-embeddings,export-onnx,report} (see --help).

Arguments are parsed before torch is imported (it takes seconds): a bad flag is refused at once.
Choices come from the registries, read lazily; defaults come from the config dataclasses.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from .config import (
    DEVICES,
    OBJECTIVES,
    PRECISIONS,
    DataConfig,
    LabConfig,
    ModelConfig,
    RunConfig,
    SweepConfig,
    TrainConfig,
)
from .errors import LatentExplorerError, TrainingCancelled
from .kinds import LABELS, PAIR_KINDS
from .metric_text import conditional_table, summary_line
from .moons import REGIMES

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS_DIR = ROOT / "checkpoints"
WORKER_NICE = 10  # a training worker's CPU priority below the web server's (training.jobs starts them)


class Registry:
    """A registry's keys as argparse choices, imported only when a value is checked or help is shown."""

    def __init__(self, module: str, name: str, extra: tuple[str, ...] = ()):
        self.module, self.name, self.extra = module, name, extra

    def keys(self) -> list[str]:
        return [*self.extra, *getattr(importlib.import_module(self.module, __package__), self.name)]

    def __contains__(self, value: object) -> bool:
        return value in self.keys()

    def __iter__(self):
        return iter(self.keys())

    def __str__(self) -> str:  # for "%(names)s" in help, expanded only when help is shown
        return ", ".join(self.keys())


def default(cls: type, name: str) -> Any:
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def parse_ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def add_data_arguments(train: argparse.ArgumentParser) -> None:
    data = train.add_argument_group("data")
    dataset = data.add_argument("--dataset", default=default(DataConfig, "name"), help="one of: %(names)s")
    dataset.names = Registry(".datasets", "DATASETS")  # load_dataset refuses other names, listing these
    data.add_argument(
        "--regime", default=default(DataConfig, "regime"), choices=list(REGIMES), help="moons: training phases"
    )
    data.add_argument("--jitter", action="store_true", help="moons: vary size and position")
    data.add_argument(
        "--image-size", type=int, default=default(DataConfig, "image_size"), help="moons / folder: side in pixels"
    )
    data.add_argument("--n-train", type=int, default=None)
    data.add_argument("--n-test", type=int, default=None)
    data.add_argument("--data", dest="path", default=None, help="folder / npz: your data")
    data.add_argument("--data-dir", default=None, help="mnist / fashion-mnist: download directory")
    data.add_argument("--data-seed", type=int, default=None, help="default: --seed")


def add_model_arguments(train: argparse.ArgumentParser) -> None:
    model = train.add_argument_group("model")
    model.add_argument(
        "--model",
        default="both",
        choices=["both", *PAIR_KINDS, "cvae"],
        help="both: an AE and a VAE; cvae: a conditional VAE and its regression baseline",
    )
    model.add_argument(
        "--condition",
        default=None,
        choices=Registry(".conditions", "CONDITIONS"),
        metavar="C",
        help="cvae: condition on %(choices)s",
    )
    model.add_argument(
        "--family",
        default=default(ModelConfig, "family"),
        choices=Registry(".models", "FAMILIES"),
        metavar="F",
        help="%(choices)s",
    )
    model.add_argument("--latent-dim", type=int, default=default(ModelConfig, "latent_dim"))
    model.add_argument("--hidden", type=parse_ints, default=default(ModelConfig, "hidden"), help="e.g. 256,128")
    model.add_argument("--beta", type=float, default=default(ModelConfig, "beta"))
    model.add_argument(
        "--posterior",
        default=default(ModelConfig, "posterior"),
        choices=Registry(".posteriors", "POSTERIORS"),
        metavar="Q",
        help="VAE's q(z|x): %(choices)s (diagonal, full-covariance Gaussian, normalising flow)",
    )
    model.add_argument(
        "--likelihood",
        default=default(ModelConfig, "likelihood"),
        metavar="L",
        choices=Registry(".losses", "LIKELIHOODS"),
        help="%(choices)s",
    )


def add_training_arguments(train: argparse.ArgumentParser) -> None:
    fitting = train.add_argument_group("training")
    fitting.add_argument("--epochs", type=int, default=default(TrainConfig, "epochs"))
    fitting.add_argument("--batch-size", type=int, default=default(TrainConfig, "batch_size"))
    fitting.add_argument("--lr", type=float, default=default(TrainConfig, "lr"))
    fitting.add_argument(
        "--kl-warmup",
        type=int,
        default=default(TrainConfig, "kl_warmup_epochs"),
        help="epochs to ramp the KL weight up",
    )
    fitting.add_argument(
        "--objective",
        default=default(TrainConfig, "objective"),
        choices=OBJECTIVES,
        help="VAE: the ELBO, or the importance-weighted bound of Burda et al. (2015) with --k draws",
    )
    fitting.add_argument(
        "--k", dest="iwae_k", type=int, default=default(TrainConfig, "iwae_k"), help="--objective iwae: draws per image"
    )
    fitting.add_argument("--seed", type=int, default=default(TrainConfig, "seed"))
    fitting.add_argument(
        "--device", default=default(TrainConfig, "device"), help=f"one of: {', '.join(DEVICES)} (under torchrun: cuda)"
    )
    fitting.add_argument(
        "--precision",
        default=default(TrainConfig, "precision"),
        choices=PRECISIONS,
        help="16: CUDA only, with a grad scaler",
    )
    fitting.add_argument("--threads", type=int, default=default(TrainConfig, "threads"), help="torch CPU threads")


LAB_INTS = ("seeds", "epochs", "n_train", "n_test", "image_size")  # LabConfig fields the CLI sets


def add_lab_parser(sub) -> None:
    lab = sub.add_parser("lab", help="train and score pairs per moons regime, latent size and seed")
    lab.add_argument("--regimes", default=",".join(default(LabConfig, "regimes")))
    lab.add_argument("--latent-dims", type=parse_ints, default=default(LabConfig, "latent_dims"))
    for name in LAB_INTS:
        lab.add_argument(f"--{name.replace('_', '-')}", type=int, default=default(LabConfig, name))
    lab.add_argument("--hidden", type=parse_ints, default=default(LabConfig, "hidden"))
    lab.add_argument(
        "--headline",
        default=",".join(default(LabConfig, "headline")),
        help="regime-latent cells (e.g. gap-2,sparse-2) run with --headline-seeds; empty for none",
    )
    lab.add_argument("--headline-seeds", type=int, default=default(LabConfig, "headline_seeds"))
    lab.add_argument("--out", default="lab")


def add_sweep_parser(sub) -> None:
    sweep = sub.add_parser("sweep", help="train VAEs per beta and seed and place them on the rate-distortion plane")
    sweep.add_argument(
        "--beta", default=",".join(f"{b:g}" for b in default(SweepConfig, "betas")), help="comma-separated KL weights"
    )
    sweep.add_argument("--seeds", type=int, default=default(SweepConfig, "seeds"), help="seeds 0 .. N-1 per beta")
    dataset = sweep.add_argument("--dataset", default=default(SweepConfig, "dataset"), help="one of: %(names)s")
    dataset.names = Registry(".datasets", "DATASETS")
    sweep.add_argument("--regime", default="full", choices=list(REGIMES), help="moons: training phases")
    sweep.add_argument("--latent-dim", type=int, default=default(SweepConfig, "latent_dim"))
    sweep.add_argument("--hidden", type=parse_ints, default=default(SweepConfig, "hidden"), help="e.g. 128,64")
    sweep.add_argument("--epochs", type=int, default=default(SweepConfig, "epochs"))
    sweep.add_argument("--batch-size", type=int, default=default(SweepConfig, "batch_size"))
    sweep.add_argument("--lr", type=float, default=default(SweepConfig, "lr"))
    sweep.add_argument("--n-train", type=int, default=None)
    sweep.add_argument("--out", default="lab/beta", help="results.json, results.md and runs/ go here")


def add_onnx_parsers(sub) -> None:
    im = sub.add_parser("import-onnx", help="check ONNX encoder/decoder graphs and add them to runs/ as a set")
    im.add_argument(
        "--encoder",
        action="append",
        default=[],
        metavar="[KIND=]FILE",
        help="an encoder .onnx (one input, the images; outputs z, or mu and logvar: by those names, else one "
        "output is z and two are mu then logvar); KIND ae or vae (default: vae when it outputs mu and logvar); "
        "repeat for a pair",
    )
    im.add_argument(
        "--decoder",
        action="append",
        default=[],
        metavar="[KIND=]FILE",
        help="a decoder .onnx (one input, the codes; one output named logits, probabilities or mean, or "
        "see --decoder-output); KIND as for --encoder",
    )
    im.add_argument(
        "--decoder-output",
        default=None,
        choices=Registry(".schema", "ONNX_DECODER_OUTPUTS"),
        metavar="WHAT",
        help="what the decoders output when their output has another name: %(choices)s",
    )
    im.add_argument("--data", required=True, metavar="DATASET", help="the data it was trained on: one of %(names)s")
    im._actions[-1].names = Registry(".datasets", "DATASETS")
    im.add_argument("--data-path", default=None, help="folder / npz: your data")
    im.add_argument("--image-size", type=int, default=default(DataConfig, "image_size"), help="moons / folder")
    im.add_argument("--regime", default=default(DataConfig, "regime"), choices=list(REGIMES), help="moons")
    im.add_argument("--likelihood", default="bernoulli", choices=Registry(".losses", "LIKELIHOODS"), metavar="L")
    im.add_argument("--value-range", default="0,1", help="the images' value range the encoder expects (low,high)")
    im.add_argument("--latent-dim", type=int, default=None, help="only when there is no decoder to read it from")
    im.add_argument("--name", required=True, help="the set's folder name under runs/")

    em = sub.add_parser("import-embeddings", help="add codes (N x d) with labels and images to runs/ as a set")
    em.add_argument("codes", help="the codes: an N x d table as .npy, .csv or .tsv (a header line allowed)")
    em.add_argument("--labels", default=None, help="N labels (integers or short strings): .npy, or one a line")
    em.add_argument("--images", default=None, help="the N images as .npy: (N, H, W), (N, C, H, W) or (N, H, W, C)")
    em.add_argument("--name", required=True, help="the set's folder name under runs/")

    ex = sub.add_parser("export-onnx", help="write a pair (bundled or trained) as ONNX graphs and a manifest")
    ex.add_argument("set", help="a bundled set (moons-sparse-2d), runs/NAME, or a set folder")
    ex.add_argument("--out", required=True, help="the folder to write (replaced when it exists)")


def build_parser(prog: str = "python -m training") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Latent Explorer: serve the app; train, measure, import and export AE/VAE pairs."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the app (Streamlit) on this machine")
    serve.add_argument("--port", type=int, default=8501)
    serve.add_argument("--address", default="127.0.0.1", help="0.0.0.0 to let other machines in")

    train = sub.add_parser("train", help="train an AE and a VAE (a pair) and save them")
    add_data_arguments(train)
    add_model_arguments(train)
    add_training_arguments(train)
    train.add_argument("--out", required=True, help="directory to write the pair into")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--force", action="store_true", help="allow --out inside checkpoints/ (the bundled sets)")

    ev = sub.add_parser("eval", help="measure a saved pair (or one model) on its test split")
    ev.add_argument("path", help="a set (moons-sparse-2d, runs/NAME), a set folder, or a .safetensors / .json file")
    ev.add_argument("--json", action="store_true", help="one JSON object per model")
    ev.add_argument("--iwae-k", type=int, default=5000)
    ev.add_argument("--data-dir", default=None)
    ev.add_argument(
        "--exact",
        action="store_true",
        help="2-D latents: exact log p(x) by quadrature, KL(q || p(z|x)) and its split into approximation "
        "and amortisation gaps (q* optimised per image)",
    )
    ev.add_argument("--exact-images", type=int, default=200, help="--exact: N test images")
    ev.add_argument(
        "--images",
        choices=("spread", "first"),
        default="spread",
        help="--exact: the N images spread evenly through the split (default; moons' split is sorted by phase), "
        "or its first N (as issue 15's independent check took them)",
    )
    ev.add_argument(
        "--q-steps",
        type=int,
        default=None,
        help="--exact: cap on q*'s Newton steps (default 100; it stops sooner, once converged)",
    )

    add_lab_parser(sub)
    add_sweep_parser(sub)
    fam = sub.add_parser("families", help="each posterior family's gaps on a pair's test split (lab/families/)")
    fam.add_argument("--pairs", default="moons-sparse-2d,digits-2d", help="comma-separated pair ids")
    fam.add_argument("--n", type=int, default=30, help="test images spread through each split")
    fam.add_argument("--out", default="lab/families", help="results.json and results.md go here")
    add_onnx_parsers(sub)
    report = sub.add_parser("report", help="rewrite README.md's generated result sections from their files")
    report.add_argument("--check", action="store_true", help="only say whether they are current (exit 1 if not)")

    de = sub.add_parser("defaults", help="rebuild the bundled default pairs in checkpoints/")
    de.add_argument("--only", default=None, help="comma-separated subset of the bundled sets (default: all)")
    de.add_argument("--out", default=str(DEFAULTS_DIR))
    de.add_argument("--quiet", action="store_true")
    de.add_argument(
        "--remeasure",
        action="store_true",
        help="re-measure the saved sets' test metrics with the current code, without retraining (weights untouched)",
    )
    wo = sub.add_parser("worker", help="train one run the app queued, in its folder (the app starts these)")
    wo.add_argument("folder", help="the run's folder under runs/ (training/jobs.py describes its files)")
    return parser


def from_args(cls, args: argparse.Namespace, **given):
    """A config from the flags of the same names as its fields (--batch-size: batch_size), and given."""
    names = [f.name for f in dataclasses.fields(cls) if f.name not in given and hasattr(args, f.name)]
    return cls(**{name: getattr(args, name) for name in names}, **given)


def command_worker(args: argparse.Namespace) -> int:
    """A worker process: lower priority first, one thread (the server keeps the other cores), then train."""
    import os

    try:
        os.nice(WORKER_NICE)
    except OSError:
        pass
    import torch

    torch.set_num_threads(1)
    from .jobs import work

    return work(args.folder)


def config_from_args(args: argparse.Namespace) -> RunConfig:
    return RunConfig(
        from_args(DataConfig, args, name=args.dataset, seed=args.seed if args.data_seed is None else args.data_seed),
        # validate() refuses a cvae without a condition, and any other model with one
        from_args(
            ModelConfig, args, kind="cvae" if args.model == "cvae" else "vae", condition=args.condition or "none"
        ),
        from_args(TrainConfig, args, kl_warmup_epochs=args.kl_warmup),
    )


def command_train(args: argparse.Namespace) -> int:
    from .checkpoint import read_sidecar
    from .runs import train_and_save

    config = config_from_args(args)
    kinds = None if args.model in ("both", "cvae") else (args.model,)
    results = train_and_save(config, args.out, kinds, progress_bar=not args.quiet, force=args.force)
    from .distributed import is_main

    if not is_main():  # torchrun: rank 0 wrote the run and reports it
        return 0
    for kind, result in results.items():
        print(summary_line(kind, read_sidecar(Path(args.out) / kind)["metrics"]), f" ({result.seconds:.1f} s)")
    print(f"saved to {args.out}")
    return 0


def checkpoint_paths(path: Path) -> list[Path]:
    from .models import MODELS

    if path.is_dir():
        found = [path / f"{kind}.safetensors" for kind in MODELS if (path / f"{kind}.json").is_file()]
        if not found:
            raise LatentExplorerError(
                f"{path}: no ae.json, vae.json, cvae.json or regression.json here",
                key="err_cli_json_vae_json",
                path=path,
            )
        return found
    return [path]


def checkpoints_at(path: Path):
    """(path, Checkpoint) of every model at path, loaded one at a time; an ONNX set's members together."""
    from .checkpoint import load_checkpoint
    from .onnxset import MANIFEST, load_onnx_members

    if path.is_dir() and (path / MANIFEST).is_file():
        yield from ((c.path, c) for c in load_onnx_members(path).values())
        return
    for weights in checkpoint_paths(path):
        yield weights, load_checkpoint(weights)


def command_eval(args: argparse.Namespace) -> int:
    from .limits import MAX_IWAE_K, check_path_text
    from .metrics import evaluate_model
    from .store import dataset_for, set_path

    if not 1 <= args.iwae_k <= MAX_IWAE_K:
        raise LatentExplorerError(
            f"--iwae-k must be 1 to {MAX_IWAE_K:,} importance samples, got {args.iwae_k}",
            key="err_cli_iwae_importance_samples",
            max_iwae_k=MAX_IWAE_K,
            iwae_k=args.iwae_k,
        )
    path = Path(check_path_text(args.path, "path"))
    if not path.exists() and set_path(args.path).is_dir():  # a set's id: moons-sparse-2d, runs/NAME
        path = set_path(args.path)
    if path.is_dir() and (path / "cvae.json").is_file():
        return eval_conditional(path, args)
    datasets = {}
    for weights, checkpoint in checkpoints_at(path):
        if args.exact:
            check_exact_args(args, checkpoint.model)  # refuse before any work
        key = json.dumps([checkpoint.config.data.__dict__, checkpoint.config.model.in_shape], sort_keys=True)
        if key not in datasets:
            datasets[key] = dataset_for(checkpoint.config, args.data_dir)
        metrics = evaluate_model(checkpoint.model, datasets[key].test.x, iwae_k=args.iwae_k)
        kind = checkpoint.config.model.kind
        if args.exact and checkpoint.model.is_variational:
            x = datasets[key].test.x
            x = x[: args.exact_images] if args.images == "first" else x
            metrics["exact"] = exact_summary(checkpoint.model, x, args.exact_images, args.q_steps)
        if args.json:
            print(json.dumps({"kind": kind, "path": str(weights), **metrics}))
        else:
            print(summary_line(kind, metrics))
            if "exact" in metrics:
                print(exact_line(metrics["exact"]))
    return 0


def check_exact_args(args: argparse.Namespace, model) -> None:
    from .inference import require_2d

    require_2d(model)
    if not 1 <= args.exact_images <= 100_000:
        raise LatentExplorerError("--exact-images must be 1 to 100,000", key="err_cli_exact_images")
    if args.q_steps is not None and not 1 <= args.q_steps <= 100_000:
        raise LatentExplorerError("--q-steps must be 1 to 100,000", key="err_cli_steps")


def exact_summary(model, x, n: int, q_steps: int | None = None) -> dict:
    from .inference import Q_STEPS, Q_TOL, infer, spread

    steps = Q_STEPS if q_steps is None else q_steps
    summary = infer(model.eval(), spread(x, min(n, len(x))), q_steps=steps, q_tol=Q_TOL).summary()
    return {**summary, "q_steps": steps}


def exact_line(m: dict) -> str:
    """Means over the images, nats: the identity log p(x) = ELBO + KL(q || p(z|x)), and the KL split."""
    return (
        f"    exact, {m['n_images']} test images: log p(x) {m['exact_log_px']:.2f} "
        f"(quadrature error < {max(m['quadrature_error_max'], 1e-4):.0e}) = ELBO {m['elbo']:.2f} "
        f"± {m['elbo_se']:.2f} + KL(q || p(z|x)) {m['kl_posterior']:.2f} ± {m['kl_posterior_se']:.2f} (median "
        f"{m['kl_posterior_median']:.2f}, max {m['kl_posterior_max']:.1f}); IWAE-50 {m['iwae_50']:.2f} ± "
        f"{m['iwae_50_se']:.2f}, IWAE-5000 {m['iwae_5000']:.2f} ± {m['iwae_5000_se']:.2f} (ESS {m['ess_5000']:.0f}); "
        f"gap split: approximation {m['approximation_gap']:.2f} ± {m['approximation_gap_se']:.2f}, "
        f"amortisation {m['amortisation_gap']:.2f} ± {m['amortisation_gap_se']:.2f}"
    )


def eval_conditional(path: Path, args: argparse.Namespace) -> int:
    """A CVAE and its regression baseline, measured together (fill-in or class sampling)."""
    from .runs import conditional_metrics
    from .store import dataset_for, load_set

    models = load_set(path)
    cvae, regression = models["cvae"], models["regression"]
    metrics = conditional_metrics(cvae.model, regression.model, dataset_for(cvae.config, args.data_dir))
    if args.json:
        print(
            json.dumps(
                {"kind": "cvae+regression", "path": str(path), "condition": cvae.config.model.condition, **metrics}
            )
        )
    else:
        print(conditional_table(metrics))
    return 0


def command_defaults(args: argparse.Namespace) -> int:
    from .checkpoint import read_sidecar
    from .fit import kinds_of
    from .runs import DEFAULTS, train_and_save

    names = list(DEFAULTS) if not args.only else [n.strip() for n in args.only.split(",")]
    unknown = [n for n in names if n not in DEFAULTS]
    if unknown:
        raise LatentExplorerError(
            f"unknown default {unknown}; choose from: {', '.join(DEFAULTS)}",
            key="err_cli_unknown_default_choose",
            unknown=unknown,
            choices=", ".join(DEFAULTS),
        )
    out = Path(args.out)
    started = time.perf_counter()
    if args.remeasure:
        return remeasure_defaults(out, names, started)
    for name in names:
        train_and_save(DEFAULTS[name], out / name, progress_bar=not args.quiet, replace=True, force=True)
        print(f"{name}:")
        for kind in kinds_of(DEFAULTS[name]):
            print("   ", summary_line(kind, read_sidecar(out / name / kind)["metrics"]))
    write_defaults_table(out)
    print(f"rebuilt {len(names)} default pair(s) in {time.perf_counter() - started:.1f} s")
    return 0


def remeasure_defaults(out: Path, names: list[str], started: float) -> int:
    from .checkpoint import read_sidecar
    from .runs import remeasure

    missing = [n for n in names if not (out / n).is_dir()]
    if missing:
        raise LatentExplorerError(
            f"not in {out}: {', '.join(missing)} (build them with `python -m training defaults`)",
            key="err_cli_build_them_python",
            out=out,
            choices=", ".join(missing),
        )
    for name in names:
        changed = remeasure(out / name)
        print(f"{name}:")
        for kind, keys in changed.items():
            m = read_sidecar(out / name / kind)["metrics"]
            print("   ", summary_line(kind, m), f" [{len(keys)} metric(s) changed]" if keys else " [unchanged]")
    write_defaults_table(out)
    print(f"re-measured {len(names)} set(s) in {time.perf_counter() - started:.1f} s; weights untouched")
    return 0


def write_defaults_table(out: Path) -> None:
    """checkpoints/METRICS.md: the test-split metrics of every bundled pair, from their sidecars."""
    from .checkpoint import atomic_write_bytes
    from .store import hold

    text = defaults_table(out)
    with hold(out / "METRICS.md"):  # two `defaults` runs of different sets each write the whole table
        atomic_write_bytes(out / "METRICS.md", text.encode())


def defaults_table(out: Path) -> str:
    """The text of METRICS.md for the sets in out, every number from their sidecars and files."""
    from .checkpoint import read_sidecar
    from .metric_text import elbo_text, measurement_text, nll_text
    from .store import sets_below

    rows = [
        "| pair | model | recon BCE | MSE | ELBO ± s.e. | NLL | Bernoulli floor | KL | active units | sample distance "
        "| size |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    found = sets_below(out)
    for directory in (path for path, kind in found if kind == "pair"):
        for kind in PAIR_KINDS:
            m = read_sidecar(directory / kind)["metrics"]
            size = (directory / f"{kind}.safetensors").stat().st_size / 1e6
            vae = "elbo" in m
            rows.append(
                f"| {directory.name} | {LABELS[kind]} | {m['recon_bce']:.2f} | {m['recon_mse']:.4f} | "
                + (f"{elbo_text(m)} | {nll_text(m)} | " if vae else "- | - | ")
                + (f"{m['bernoulli_floor']:.2f} | " if "bernoulli_floor" in m else "- | ")
                + (f"{m['kl']:.2f} | " if vae else "- | ")
                + f"{m['active_units']}/{m['latent_dim']} | "
                + (f"{m['prior_validity']:.4f} ({m['prior_source']}) | " if "prior_validity" in m else "- | ")
                + f"{size:.2f} MB |"
            )
    for directory in (path for path, kind in found if kind == "conditional"):
        m = read_sidecar(directory / "cvae")["metrics"]
        rows.append(f"\n### {directory.name}\n\n" + conditional_table(m))
    return (
        "# Bundled default pairs\n\nTest-split metrics written by `make defaults` "
        "(`python -m training defaults`); re-measure any with `python -m training eval checkpoints/NAME`. "
        + measurement_text()
        + " Bernoulli floor: the least Bernoulli NLL any model can reach on these test images (their pixels are "
        "fractional), so a Bernoulli NLL is comparable only with one on the same data; a Gaussian or "
        "continuous-Bernoulli NLL has no such offset.\n\n" + "\n".join(rows) + "\n"
    )


def command_lab(args: argparse.Namespace) -> int:
    from .lab import run_lab
    from .limits import check_run
    from .store import check_out_dir

    regimes = tuple(r.strip() for r in args.regimes.split(",") if r.strip())
    given = {name: getattr(args, name) for name in LAB_INTS}
    lab = LabConfig(
        regimes=regimes,
        latent_dims=args.latent_dims,
        hidden=args.hidden,
        **given,
        headline=tuple(h.strip() for h in args.headline.split(",") if h.strip()),
        headline_seeds=args.headline_seeds,
    )
    lab.validate()  # every cell, and its budget, before hours of training
    for regime in regimes:
        for dim in lab.latent_dims:
            check_run(lab.pair_config(regime, dim, 0), batch=True)
    check_out_dir(args.out)
    from .lab import cost_text, family_sentence, phase_sentence

    results = run_lab(lab, args.out)
    for regime, finding in results["phase_curves"].items():  # the density finding, from the numbers
        print(phase_sentence(regime, finding))
    families = results["family_curves"]
    for family, finding in families.items():
        print(family_sentence(family, finding, families.get("diag")))
    print(cost_text(results))
    print(f"wrote {Path(args.out) / 'results.md'} and results.json in {results['seconds']:.0f} s")
    return 0


def command_sweep(args: argparse.Namespace) -> int:
    from .limits import check_run
    from .store import check_out_dir
    from .sweep import parse_betas, run_sweep, trend_sentence

    sweep = from_args(SweepConfig, args, betas=parse_betas(args.beta))
    sweep.validate()  # every run, and its budget, before minutes of training
    for beta in sweep.betas:
        check_run(sweep.run_config(beta, 0), batch=True)
    check_out_dir(args.out)
    results = run_sweep(sweep, args.out)
    print(trend_sentence(results))
    print(f"wrote {Path(args.out) / 'results.md'} and results.json in {results['seconds']:.0f} s")
    return 0


def graph_args(values: list[str], what: str, default_kind) -> dict[str, Path]:
    """[KIND=]FILE flags -> {kind: path}; a bare FILE's kind from default_kind(path)."""
    from .limits import check_path_text

    found: dict[str, Path] = {}
    for value in values:
        kind, sep, text = value.partition("=")
        if not sep:
            kind, text = "", value
        path = Path(check_path_text(text, what))
        if not path.is_file():
            raise LatentExplorerError(
                f"{what} {text!r}: no such file", key="err_cli_such_file", what=what, text=repr(text)
            )
        kind = kind or default_kind(path)
        if kind not in PAIR_KINDS or kind in found:
            raise LatentExplorerError(
                f"{what} {value!r}: KIND must be ae or vae, each at most once",
                key="err_cli_kind_vae_each",
                what=what,
                value=repr(value),
            )
        found[kind] = path
    return found


def command_families(args: argparse.Namespace) -> int:
    from .families import run_families
    from .store import check_out_dir

    pairs = tuple(p.strip() for p in args.pairs.split(",") if p.strip())
    if not pairs or not 2 <= args.n <= 1000:
        raise LatentExplorerError(
            f"--pairs needs at least one pair id and --n 2 to 1000 (got {args.pairs!r}, {args.n})",
            key="err_cli_families_args",
            pairs=repr(args.pairs),
            n=args.n,
        )
    check_out_dir(args.out)
    results = run_families(pairs, args.n, args.out)
    print(f"wrote {Path(args.out) / 'results.md'} and results.json in {results['seconds']:.0f} s")
    return 0


def command_report(args: argparse.Namespace) -> int:
    from .report import report

    stale = report(check=args.check)
    if args.check:
        print("READMEs are current" if not stale else f"README blocks out of date: {', '.join(stale)}")
        return 1 if stale else 0
    print(f"READMEs: rewrote {', '.join(stale)}" if stale else "READMEs were current")
    return 0


def command_import_onnx(args: argparse.Namespace) -> int:
    from .onnxio import guess_kind, import_onnx

    try:
        low, high = (float(v) for v in args.value_range.split(","))
    except ValueError:
        raise LatentExplorerError(
            f"--value-range must be low,high (e.g. 0,1 or -1,1); got {args.value_range!r}",
            key="err_cli_value_range_low",
            value_range=repr(args.value_range),
        ) from None
    encoders = graph_args(args.encoder, "--encoder", guess_kind)
    only = next(iter(encoders)) if len(encoders) == 1 else "vae"
    decoders = graph_args(args.decoder, "--decoder", lambda path: only)
    data = DataConfig(name=args.data, path=args.data_path, image_size=args.image_size, regime=args.regime)
    imported = import_onnx(
        encoders,
        decoders,
        data,
        args.name,
        likelihood=args.likelihood,
        value_range=(low, high),
        latent_dim=args.latent_dim,
        source="import-onnx",
        decoder_output=args.decoder_output,
    )
    order = {
        k: f", outputs read as {m['encoder_order']}"
        for k, m in imported.manifest["models"].items()
        if "encoder_order" in m
    }
    kinds = ", ".join(
        f"{k} ({m['encoder'] or 'no'} encoder{order.get(k, '')}, {m['decoder'] or 'no'} decoder)"
        for k, m in imported.manifest["models"].items()
    )
    print(f"imported {imported.set_id}: {kinds}; latent {imported.manifest['latent_dim']}, data {args.data}")
    return 0


def command_import_embeddings(args: argparse.Namespace) -> int:
    from .embeddings import read_embeddings, read_file
    from .onnxio import import_embeddings

    emb = read_embeddings(
        read_file(args.codes),
        None if args.labels is None else read_file(args.labels),
        None if args.images is None else read_file(args.images),
    )
    imported = import_embeddings(emb, args.name, "import-embeddings")
    n, d = emb.codes.shape
    classes = "no labels" if emb.class_names is None else f"{len(emb.class_names)} labels"
    images = "with images" if emb.images is not None else "no images"
    print(f"imported {imported.set_id}: {n} codes of {d} numbers, {classes}, {images}")
    return 0


def command_export_onnx(args: argparse.Namespace) -> int:
    from .limits import check_path_text
    from .onnxio import export_set
    from .store import set_path

    text = check_path_text(args.set, "set")
    source = Path(text) if Path(text).is_dir() else set_path(text)
    out = export_set(source, args.out)
    print(f"wrote {', '.join(sorted(p.name for p in out.iterdir()))} to {out}")
    return 0


def command_serve(args: argparse.Namespace) -> int:
    """streamlit run app.py where it lies (the source tree, or site-packages once installed), with the
    settings of the project's .streamlit/config.toml, which an installed copy does not have beside it."""
    import subprocess

    if not 1 <= args.port <= 65535:
        raise LatentExplorerError(f"--port must be 1 to 65535, got {args.port}", key="err_cli_port", port=args.port)
    settings = {
        "server.port": args.port,
        "server.address": args.address,
        "server.headless": "true",
        "server.runOnSave": "false",
        "server.fileWatcherType": "none",
        "server.maxUploadSize": 50,
        "browser.gatherUsageStats": "false",
        "client.toolbarMode": "minimal",
    }
    flags = [f"--{key}={value}" for key, value in settings.items()]
    return subprocess.call([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), *flags])


COMMANDS = {
    "serve": command_serve,
    "train": command_train,
    "eval": command_eval,
    "defaults": command_defaults,
    "lab": command_lab,
    "sweep": command_sweep,
    "families": command_families,
    "import-onnx": command_import_onnx,
    "import-embeddings": command_import_embeddings,
    "export-onnx": command_export_onnx,
    "worker": command_worker,
    "report": command_report,
}


def main(argv: list[str] | None = None, prog: str = "python -m training") -> int:
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # fit() logs its device and data path
    try:
        return COMMANDS[args.command](args)
    except TrainingCancelled:
        print("cancelled", file=sys.stderr)
        return 130
    except LatentExplorerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a disk fault where no writer named it (read-only, full, a folder removed)
        print(f"error: {f'{exc.filename}: ' if exc.filename else ''}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing half-written was left behind", file=sys.stderr)
        return 130


def cli() -> None:
    """The `latent-explorer` command (pyproject's [project.scripts])."""
    sys.exit(main(prog="latent-explorer"))


if __name__ == "__main__":
    sys.exit(main())
