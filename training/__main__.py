"""Command line: python -m training {train,eval,defaults} (see --help)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from .checkpoint import find_pairs, load_checkpoint
from .config import DataConfig, ModelConfig, RunConfig, TrainConfig
from .datasets import DATASETS, load_dataset
from .errors import LatentExplorerError
from .fit import TrainingCancelled, kinds_of
from .metrics import evaluate_model
from .models import FAMILIES, MODELS
from .runs import DEFAULTS, KINDS, train_and_save

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS_DIR = ROOT / "checkpoints"


def parse_ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description="Train and measure AE/VAE pairs.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train an AE and a VAE (a pair) and save them")
    data = train.add_argument_group("data")
    data.add_argument("--dataset", default="moons", help=f"one of: {', '.join(DATASETS)}")
    data.add_argument("--regime", default="full", choices=["full", "gap", "sparse"], help="moons: training phases")
    data.add_argument("--jitter", action="store_true", help="moons: vary size and position")
    data.add_argument("--image-size", type=int, default=28, help="moons / folder: side in pixels")
    data.add_argument("--n-train", type=int, default=None)
    data.add_argument("--n-test", type=int, default=None)
    data.add_argument("--data", dest="path", default=None, help="folder / npz: your data")
    data.add_argument("--data-dir", default=None, help="mnist / fashion-mnist: download directory")
    data.add_argument("--data-seed", type=int, default=None, help="default: --seed")
    model = train.add_argument_group("model")
    model.add_argument(
        "--model",
        default="both",
        choices=["both", *KINDS, "cvae"],
        help="both: an AE and a VAE; cvae: a conditional VAE and its regression baseline",
    )
    model.add_argument(
        "--condition",
        default=None,
        choices=["label", "half"],
        help="cvae: condition on the class label or on half of the image",
    )
    model.add_argument("--family", default="mlp", choices=list(FAMILIES))
    model.add_argument("--latent-dim", type=int, default=2)
    model.add_argument("--hidden", type=parse_ints, default=(128, 64), help="e.g. 256,128")
    model.add_argument("--beta", type=float, default=1.0)
    model.add_argument("--likelihood", default="bernoulli", choices=["bernoulli", "gaussian"])
    fitting = train.add_argument_group("training")
    fitting.add_argument("--epochs", type=int, default=40)
    fitting.add_argument("--batch-size", type=int, default=128)
    fitting.add_argument("--lr", type=float, default=1e-3)
    fitting.add_argument("--kl-warmup", type=int, default=0, help="epochs to ramp the KL weight up")
    fitting.add_argument("--seed", type=int, default=0)
    fitting.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    fitting.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    train.add_argument("--out", required=True, help="directory to write the pair into")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    ev = sub.add_parser("eval", help="measure a saved pair (or one model) on its test split")
    ev.add_argument("path", help="a pair directory, or a .safetensors / .json file")
    ev.add_argument("--json", action="store_true", help="one JSON object per model")
    ev.add_argument("--iwae-k", type=int, default=50)
    ev.add_argument("--data-dir", default=None)

    lab = sub.add_parser("lab", help="train and score pairs per moons regime, latent size and seed")
    lab.add_argument("--regimes", default="full,gap,sparse")
    lab.add_argument("--latent-dims", type=parse_ints, default=(1, 2, 16))
    lab.add_argument("--seeds", type=int, default=5)
    lab.add_argument("--epochs", type=int, default=40)
    lab.add_argument("--n-train", type=int, default=4000)
    lab.add_argument("--n-test", type=int, default=1000)
    lab.add_argument("--image-size", type=int, default=28)
    lab.add_argument("--hidden", type=parse_ints, default=(128, 64))
    lab.add_argument("--out", default="lab")

    de = sub.add_parser("defaults", help="rebuild the bundled default pairs in checkpoints/")
    de.add_argument("--only", default=None, help=f"comma-separated subset of: {', '.join(DEFAULTS)}")
    de.add_argument("--out", default=str(DEFAULTS_DIR))
    de.add_argument("--quiet", action="store_true")
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    return RunConfig(
        DataConfig(
            name=args.dataset,
            regime=args.regime,
            jitter=args.jitter,
            image_size=args.image_size,
            n_train=args.n_train,
            n_test=args.n_test,
            path=args.path,
            data_dir=args.data_dir,
            seed=args.seed if args.data_seed is None else args.data_seed,
        ),
        ModelConfig(
            kind="cvae" if args.model == "cvae" else "vae",
            family=args.family,
            latent_dim=args.latent_dim,
            hidden=args.hidden,
            beta=args.beta,
            likelihood=args.likelihood,
            condition=(args.condition or "none") if args.model == "cvae" else "none",
        ),
        TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            device=args.device,
            threads=args.threads,
            kl_warmup_epochs=args.kl_warmup,
        ),
    )


def summary_line(kind: str, metrics: dict) -> str:
    if "recon_bce" not in metrics:  # conditional models
        parts = [
            f"{kind.upper():>10}",
            f"test loss {metrics['test_total']:.2f}",
            f"(recon {metrics['test_reconstruction']:.2f}",
            f"KL {metrics['test_kl']:.2f})",
        ]
        done = metrics.get("completion")
        if done:
            parts += [
                f"| fill-in MSE: regression {done['regression_error']:.4f}, CVAE best of {done['n_samples']} "
                f"{done['cvae_best_of_n_error']:.4f}, mean {done['cvae_mean_error']:.4f}"
            ]
        return "  ".join(parts)
    parts = [f"{kind.upper():>3}", f"recon BCE {metrics['recon_bce']:.2f}", f"MSE {metrics['recon_mse']:.4f}"]
    if "elbo" in metrics:
        parts += [
            f"ELBO {metrics['elbo']:.2f}",
            f"IWAE NLL {metrics['iwae_nll']:.2f} (k={metrics['iwae_k']})",
            f"KL {metrics['kl']:.2f}",
        ]
    parts.append(f"active units {metrics['active_units']}/{metrics['latent_dim']}")
    return "  ".join(parts)


def command_train(args: argparse.Namespace) -> int:
    if args.model == "cvae" and not args.condition:
        raise LatentExplorerError("--model cvae needs --condition label or --condition half")
    if args.condition and args.model != "cvae":
        raise LatentExplorerError("--condition goes with --model cvae")
    config = config_from_args(args)
    kinds = None if args.model in ("both", "cvae") else (args.model,)
    results = train_and_save(config, args.out, kinds, progress_bar=not args.quiet)
    for kind, result in results.items():
        sidecar = json.loads((Path(args.out) / f"{kind}.json").read_text())
        print(summary_line(kind, sidecar["metrics"]), f" ({result.seconds:.1f} s)")
    print(f"saved to {args.out}")
    return 0


def checkpoint_paths(path: Path) -> list[Path]:
    if path.is_dir():
        found = [path / f"{kind}.safetensors" for kind in MODELS if (path / f"{kind}.json").is_file()]
        if not found:
            raise LatentExplorerError(f"{path}: no ae.json, vae.json, cvae.json or regression.json here")
        return found
    return [path]


def command_eval(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if path.is_dir() and (path / "cvae.json").is_file():
        return eval_conditional(path, args)
    datasets = {}
    for weights in checkpoint_paths(path):
        checkpoint = load_checkpoint(weights)
        data_config = checkpoint.config.data
        if args.data_dir:
            data_config.data_dir = args.data_dir
        key = json.dumps(data_config.__dict__, sort_keys=True)
        if key not in datasets:
            datasets[key] = load_dataset(data_config)
        metrics = evaluate_model(checkpoint.model, datasets[key].test.x, iwae_k=args.iwae_k)
        kind = checkpoint.config.model.kind
        if args.json:
            print(json.dumps({"kind": kind, "path": str(weights), **metrics}))
        else:
            print(summary_line(kind, metrics))
    return 0


def eval_conditional(path: Path, args: argparse.Namespace) -> int:
    """A CVAE and its regression baseline, measured together (fill-in or class sampling)."""
    from .runs import conditional_metrics

    cvae, regression = load_checkpoint(path / "cvae"), load_checkpoint(path / "regression")
    data_config = cvae.config.data
    if args.data_dir:
        data_config.data_dir = args.data_dir
    metrics = conditional_metrics(cvae.model, regression.model, load_dataset(data_config))
    if args.json:
        print(
            json.dumps(
                {"kind": "cvae+regression", "path": str(path), "condition": cvae.config.model.condition, **metrics}
            )
        )
    else:
        print(conditional_table(metrics))
    return 0


def conditional_table(metrics: dict) -> str:
    if "completion" in metrics:
        m = metrics["completion"]
        rows = [
            "| fill in the missing half | regression | CVAE |",
            "|---|---|---|",
            f"| MSE to the truth (missing half) | {m['regression_error']:.4f} | best of {m['n_samples']}: "
            f"{m['cvae_best_of_n_error']:.4f}, mean {m['cvae_mean_error']:.4f} |",
            f"| diversity (mean pairwise MSE of completions) | 0 | {m['cvae_diversity']:.4f} |",
            f"| sharpness (mean gradient; truth {m['sharpness_truth']:.4f}) | {m['sharpness_regression']:.4f} | "
            f"{m['sharpness_cvae']:.4f} |",
            f"| MSE to the mean of the CVAE's samples | {m['regression_to_sample_mean']:.4f} | one sample: "
            f"{m['sample_to_sample_mean']:.4f} |",
            f"| CVAE reconstruction of the visible half (MSE) | - | {m['cvae_visible_error']:.4f} |",
        ]
        return "\n".join(rows) + f"\n\n{m['n_images']} test images x 4 halves (top, bottom, left, right)."
    m = metrics["labels"]
    return (
        f"class-conditional samples: variance across z for a fixed label {m['within_class_variance']:.4f}, "
        f"across labels for a fixed z {m['across_class_variance']:.4f}; sharpness CVAE {m['sharpness_cvae']:.4f}, "
        f"regression {m['sharpness_regression']:.4f}"
    )


def command_defaults(args: argparse.Namespace) -> int:
    names = list(DEFAULTS) if not args.only else [n.strip() for n in args.only.split(",")]
    unknown = [n for n in names if n not in DEFAULTS]
    if unknown:
        raise LatentExplorerError(f"unknown default {unknown}; choose from: {', '.join(DEFAULTS)}")
    out = Path(args.out)
    started = time.perf_counter()
    for name in names:
        target = out / name
        staging = out / f".{name}.new"
        shutil.rmtree(staging, ignore_errors=True)
        train_and_save(DEFAULTS[name], staging, progress_bar=not args.quiet)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        print(f"{name}:")
        for kind in kinds_of(DEFAULTS[name]):
            sidecar = json.loads((target / f"{kind}.json").read_text())
            print("   ", summary_line(kind, sidecar["metrics"]))
    write_defaults_table(out)
    print(f"rebuilt {len(names)} default pair(s) in {time.perf_counter() - started:.1f} s")
    return 0


def write_defaults_table(out: Path) -> None:
    """checkpoints/METRICS.md: the test-split metrics of every bundled pair, from their sidecars."""
    rows = [
        "| pair | model | recon BCE | MSE | ELBO | IWAE NLL | KL | active units | sample distance | size |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for directory in find_pairs(out):
        for kind in KINDS:
            m = json.loads((directory / f"{kind}.json").read_text())["metrics"]
            size = (directory / f"{kind}.safetensors").stat().st_size / 1e6
            vae = "elbo" in m
            rows.append(
                f"| {directory.name} | {kind.upper()} | {m['recon_bce']:.2f} | {m['recon_mse']:.4f} | "
                + (f"{m['elbo']:.2f} | {m['iwae_nll']:.2f} | {m['kl']:.2f} | " if vae else "- | - | - | ")
                + f"{m['active_units']}/{m['latent_dim']} | "
                + (f"{m['prior_validity']:.4f} ({m['prior_source']}) | " if "prior_validity" in m else "- | ")
                + f"{size:.2f} MB |"
            )
    for directory in sorted(p.parent for p in out.glob("*/cvae.json")):
        m = json.loads((directory / "cvae.json").read_text())["metrics"]
        rows.append(f"\n### {directory.name}\n\n" + conditional_table(m))
    text = (
        "# Bundled default pairs\n\nTest-split metrics written by `make defaults` "
        "(`python -m training defaults`); re-measure any with `python -m training eval checkpoints/NAME`. "
        "Sample distance: mean distance of 1,000 decoded samples (VAE: N(0, I); AE: a Gaussian fitted to its "
        "codes) to the nearest true moon render, or for digits to the nearest training image (a proxy).\n\n"
        + "\n".join(rows)
        + "\n"
    )
    (out / "METRICS.md").write_text(text)


def command_lab(args: argparse.Namespace) -> int:
    from .lab import LabConfig, run_lab

    regimes = tuple(r.strip() for r in args.regimes.split(",") if r.strip())
    bad = [r for r in regimes if r not in ("full", "gap", "sparse")]
    if bad or not regimes:
        raise LatentExplorerError(f"regimes must be among full, gap, sparse; got {args.regimes!r}")
    if not 1 <= args.seeds <= 20:
        raise LatentExplorerError("seeds must be 1 to 20")
    lab = LabConfig(
        regimes=regimes,
        latent_dims=args.latent_dims,
        seeds=args.seeds,
        epochs=args.epochs,
        n_train=args.n_train,
        n_test=args.n_test,
        image_size=args.image_size,
        hidden=args.hidden,
    )
    for regime in regimes:  # validate every cell before hours of training
        for dim in lab.latent_dims:
            from .lab import pair_config

            config = pair_config(lab, regime, dim, 0)
            config.validate()
            config.model.in_shape = (1, lab.image_size, lab.image_size)
            config.model.validate()
    results = run_lab(lab, args.out)
    print(f"wrote {Path(args.out) / 'results.md'} and results.json in {results['seconds']:.0f} s")
    return 0


COMMANDS = {"train": command_train, "eval": command_eval, "defaults": command_defaults, "lab": command_lab}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except TrainingCancelled:
        print("cancelled", file=sys.stderr)
        return 130
    except LatentExplorerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing half-written was left behind", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
