"""Train, measure and save: what `python -m training train` and the app's train page share."""

from __future__ import annotations

import dataclasses
import math
from contextlib import nullcontext
from pathlib import Path
from typing import Callable

import torch

from .bank import bank_for
from .checkpoint import save_checkpoint
from .config import DataConfig, ModelConfig, RunConfig, TrainConfig
from .datasets import Dataset, check_split_sizes, load_dataset
from .distributed import is_main
from .errors import LatentExplorerError
from .fit import FitResult, Progress, fit, kinds_of, pair_configs, with_data_shape
from .limits import check_run, model_parameters
from .metrics import FULL, Budget, completion_metrics, evaluate_model, label_metrics, prior_validity
from .sampling import prior_codes
from .store import announce, check_free_space, check_out_dir, hold, staged_dir


def train_and_save(
    config: RunConfig,
    out: str | Path,
    kinds: tuple[str, ...] | None = None,
    *,
    dataset: Dataset | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_phase: Callable[..., None] | None = None,
    progress_bar: bool = True,
    iwae_k: int | None = None,
    budget: Budget = FULL,
    replace: bool = False,
    force: bool = False,
    new: bool = False,
) -> dict[str, FitResult]:
    """Train each kind with the same config, measure it on the test split, save it under out/.

    kinds: by default the pair the config asks for (AE + VAE, or CVAE + regression).

    A new folder is written through store.staged_dir once every model is trained, so a failed or
    cancelled run leaves nothing a loader would find; replace=True swaps out an existing folder
    the same way. Without it, models are saved into an existing folder one atomic file at a time.
    budget: how hard the test metrics are measured (metrics.FULL; the app's runs use metrics.QUICK);
    iwae_k overrides its k. on_phase(name, kind, what) hears each step after training: ("measuring",
    "vae", "ELBO"), ... ("saving", "", ""). The folder is held (store.hold) from the start: another writer of it is
    refused at once. force: write under checkpoints/ (the bundled sets); new: refuse a folder that
    appeared meanwhile (a run named in the app must not land in another's folder).
    """
    config.validate()
    check_run(config)
    out = check_out_dir(out, force=force)  # before the data and hours of training
    # One writer per folder for the whole run: a second run (CLI or app, any process) is refused at once.
    with hold(out) if is_main() else nullcontext():
        if new and out.exists():
            raise LatentExplorerError(
                f"{out}: a run by this name was saved meanwhile; nothing was written",
                key="err_save_run_name_saved",
                out=out,
            )
        dataset = dataset if dataset is not None else load_dataset(config.data)
        check_split_sizes(len(dataset.train), len(dataset.test), config.data.name)  # before training
        for run in pair_configs(config).values():  # the memory a run takes, checked before any is allocated
            check_run(with_data_shape(run, dataset), batch=True)
        if is_main():  # and the disk its save takes
            runs = [with_data_shape(pair_configs(config)[kind], dataset) for kind in kinds or kinds_of(config)]
            check_free_space(out, sum(4 * model_parameters(run.model) for run in runs))
        if not is_main():  # torchrun: the other ranks train alongside rank 0 and write nothing
            return {
                kind: fit(pair_configs(config)[kind], dataset, progress_bar=False) for kind in kinds or kinds_of(config)
            }
        results, metrics = {}, {}
        kinds = kinds or kinds_of(config)
        conditional = config.model.condition != "none"
        bank = None if conditional else bank_for(dataset)
        for kind in kinds:
            run = pair_configs(config)[kind]
            result = fit(run, dataset, on_progress=on_progress, should_stop=should_stop, progress_bar=progress_bar)
            results[kind] = result
            step = _steps(on_phase, kind)
            if conditional:
                last = result.history[-1]
                metrics[kind] = {k: last[k] for k in ("test_total", "test_reconstruction", "test_kl")}
            else:
                metrics[kind] = test_metrics(result.model, dataset, bank, budget, iwae_k, on_step=step)
            metrics[kind]["train_seconds"] = result.seconds
            metrics[kind]["samples_per_second"] = result.samples_per_second
        if conditional and set(results) == {"cvae", "regression"}:
            _steps(on_phase, "cvae")("completions" if config.model.condition == "half" else "labels")
            shared = conditional_metrics(results["cvae"].model, results["regression"].model, dataset)
            for kind in results:
                metrics[kind].update(shared)
        _steps(on_phase, "")("saving")
        with nullcontext(out) if out.exists() and not replace else staged_dir(out, replace=replace) as target:
            for kind, result in results.items():
                save_checkpoint(
                    target,
                    result.model,
                    result.config,
                    data_stats=dataset.stats(),
                    metrics=metrics[kind],
                    history=result.history,
                )
        announce(out)  # a set saved into runs/ is listed by every server process at once
        return results


def _steps(on_phase: Callable[..., None] | None, kind: str) -> Callable[[str], None]:
    """on_step(what) for one model's measurements, as on_phase("measuring", kind, what); "saving" is
    on_phase("saving"). Does nothing without an on_phase."""
    if on_phase is None:
        return lambda what: None
    return lambda what: on_phase("saving") if what == "saving" else on_phase("measuring", kind, what)


PRIOR_SAMPLES = 1000
COMPLETION_IMAGES = 500


def conditional_metrics(cvae, regression, dataset: Dataset) -> dict:
    """What a CVAE + regression set is judged by, on (at most 500 of) the test split."""
    if cvae.config.condition == "half":
        return {"completion": completion_metrics(cvae, regression, dataset.test.x[:COMPLETION_IMAGES])}
    return {"labels": label_metrics(cvae, regression, cvae.config.n_classes)}


@torch.no_grad()
def sample_validity(model, dataset: Dataset, bank, seed: int = 0) -> dict:
    """Mean manifold distance of 1,000 decoded samples: the VAE from its prior N(0, I), the AE
    (which has none) from a Gaussian fitted to its training codes."""
    train_codes = None if model.is_variational else model.encode(dataset.train.x[:10_000]).mean.numpy()
    codes, source = prior_codes(model, train_codes, PRIOR_SAMPLES, seed)
    return {
        "prior_validity": prior_validity(model, bank, codes),
        "prior_source": source,
        "prior_bank": "proxy" if bank.is_proxy else "true renders",
    }


# The bundled pairs in checkpoints/: small MLPs (each model under 1 MB) that train in seconds.
def _moons(regime: str, latent_dim: int = 2) -> RunConfig:
    return RunConfig(DataConfig("moons", regime=regime), ModelConfig(latent_dim=latent_dim), TrainConfig(epochs=40))


def _digits(latent_dim: int) -> RunConfig:
    return RunConfig(
        DataConfig("digits"),
        ModelConfig(latent_dim=latent_dim, hidden=(128, 64)),
        TrainConfig(epochs=150, batch_size=64),
    )


def _with_posterior(config: RunConfig, posterior: str = "diag", objective: str = "elbo", k: int = 50) -> RunConfig:
    """A bundled pair's run with another posterior family or objective: same data, architecture and seed."""
    return dataclasses.replace(
        config,
        model=dataclasses.replace(config.model, posterior=posterior),
        train=dataclasses.replace(config.train, objective=objective, iwae_k=k),
    )


def _digits_cvae(condition: str, beta: float) -> RunConfig:
    return RunConfig(
        DataConfig("digits"),
        ModelConfig(kind="cvae", condition=condition, latent_dim=4, hidden=(128, 64), beta=beta),
        TrainConfig(epochs=150, batch_size=64),
    )


# mnist5k (28x28): each model stays under 1.5 MB of float32 weights.
def _mnist5k(family: str, latent_dim: int, hidden: tuple[int, ...], epochs: int) -> RunConfig:
    return RunConfig(
        DataConfig("mnist5k"),
        ModelConfig(family=family, latent_dim=latent_dim, hidden=hidden, channels=(16, 32)),
        TrainConfig(epochs=epochs, batch_size=64),
    )


def _mnist5k_cvae(beta: float) -> RunConfig:
    return RunConfig(
        DataConfig("mnist5k"),
        ModelConfig(kind="cvae", condition="half", latent_dim=4, hidden=(80, 40), beta=beta),
        TrainConfig(epochs=60, batch_size=64),
    )


DEFAULTS: dict[str, RunConfig] = {
    "moons-sparse-2d": _moons("sparse"),
    "moons-gap-2d": _moons("gap"),
    "moons-full-2d": _moons("full"),
    # The tutorial's thought experiment: a 1-D code, crescents and full moons only, ask for what lies between.
    "moons-sparse-1d": _moons("sparse", latent_dim=1),
    "digits-2d": _digits(2),
    "digits-8d": _digits(8),
    "digits-label-cvae": _digits_cvae("label", 1.0),
    # At beta = 1 the half-image CVAE all but ignores z (test KL 0.22 nats, completions 0.006
    # apart); beta = 0.5 keeps about 1 nat in z and the completions differ.
    "digits-half-cvae": _digits_cvae("half", 0.5),
    "mnist5k-2d": _mnist5k("mlp", 2, (192, 96), 100),
    "mnist5k-16d": _mnist5k("conv", 16, (96,), 30),
    # At 28x28 beta = 0.5 left z little to do (KL 2.9 nats, completions 0.0058 apart); beta = 0.2
    # keeps 7 nats and 1.4x the diversity; beta = 0.1 was no more diverse and blurrier.
    "mnist5k-half-cvae": _mnist5k_cvae(0.2),
    # Posterior families and the IWAE objective (issue 28), beside the diagonal ELBO pairs above
    "moons-sparse-2d-full": _with_posterior(_moons("sparse"), "full"),
    "moons-sparse-2d-flow": _with_posterior(_moons("sparse"), "flow"),
    "moons-sparse-2d-iwae50": _with_posterior(_moons("sparse"), "diag", "iwae", 50),
    "digits-2d-full": _with_posterior(_digits(2), "full"),
    "digits-2d-flow": _with_posterior(_digits(2), "flow"),
    "digits-2d-iwae50": _with_posterior(_digits(2), "diag", "iwae", 50),
}


# Metrics that describe the training, not the model's test performance: a re-measure keeps them.
TRAINING_FACTS = ("train_seconds", "samples_per_second", "test_total", "test_reconstruction", "test_kl")


def measure_set(models, dataset: Dataset, budget: Budget = FULL) -> dict[str, dict]:
    """Each member's test metrics, as train_and_save measures them at save."""
    if models.kind == "conditional":
        shared = conditional_metrics(models["cvae"].model, models["regression"].model, dataset)
        return {kind: dict(shared) for kind in models.kinds}
    bank = bank_for(dataset)
    return {kind: test_metrics(models[kind].model, dataset, bank, budget) for kind in models.kinds}


def test_metrics(model, dataset: Dataset, bank, budget: Budget = FULL, iwae_k: int | None = None, on_step=None) -> dict:
    """An AE's or VAE's test metrics: evaluate_model on the test split plus its prior samples' validity.
    on_step(what) hears each measurement as it starts."""
    metrics = evaluate_model(model, dataset.test.x, iwae_k, budget, on_step=on_step)
    if on_step is not None:
        on_step("prior samples")
    return {**metrics, **sample_validity(model, dataset, bank)}


def _differs(a, b, rel: float = 1e-6) -> bool:
    """Two metric values differ beyond float noise (a thread count changes the last digits)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) != set(b) or any(_differs(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) != len(b) or any(_differs(x, y, rel) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return not math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)
    return a != b


def remeasure(directory: str | Path, budget: Budget = FULL, data_dir: str | None = None) -> dict[str, list[str]]:
    """Re-measure a saved set's test metrics with the current code; nothing is retrained.

    A sidecar whose metrics changed is rewritten through save_checkpoint (atomic, schema-checked),
    keeping its creation time and training facts; the weights must re-save as the same bytes, or
    nothing is written. Returns, per member, the metric keys that changed.
    """
    from .checkpoint import read_sidecar
    from .store import dataset_for, load_set

    # Held like any other writer of a set folder (store.hold), from before the read: a training run or
    # a second re-measure of the same folder is refused at once instead of interleaving its files.
    with hold(directory):
        models = load_set(directory)
        measured = measure_set(models, dataset_for(models.lead.config, data_dir), budget)
        changed = {}
        for kind, new in measured.items():
            checkpoint = models[kind]
            old = checkpoint.metrics
            metrics = {**new, **{k: old[k] for k in TRAINING_FACTS if k in old}}
            changed[kind] = sorted(k for k in set(old) | set(metrics) if _differs(old.get(k), metrics.get(k)))
            if changed[kind]:
                save_checkpoint(
                    directory,
                    checkpoint.model,
                    checkpoint.config,
                    data_stats=checkpoint.data_stats,
                    metrics=metrics,
                    history=checkpoint.history,
                    created=checkpoint.created,
                    same_weights_as=read_sidecar(Path(directory) / kind)["weights_sha256"],
                )
    if any(changed.values()):
        announce(directory)
    return changed
