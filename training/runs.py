"""Train, measure and save: what `python -m training train` and the app's train page share."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from .checkpoint import save_checkpoint
from .config import DataConfig, ModelConfig, RunConfig, TrainConfig
from .datasets import Dataset, load_dataset
from .fit import FitResult, Progress, fit, pair_configs
from .metrics import evaluate_model

KINDS = ("ae", "vae")


def train_and_save(
    config: RunConfig,
    out: str | Path,
    kinds: tuple[str, ...] = KINDS,
    *,
    dataset: Dataset | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress_bar: bool = True,
    iwae_k: int = 50,
) -> dict[str, FitResult]:
    """Train each kind with the same config, measure it on the test split, save it under out/.

    A new run is written into a hidden sibling directory and renamed into place when every
    model is saved, so a failed or cancelled run leaves nothing a loader would find.
    """
    config.validate()
    out = Path(out)
    dataset = dataset if dataset is not None else load_dataset(config.data)
    fresh = not out.exists()
    out.parent.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent)) if fresh else out
    results = {}
    try:
        for kind in kinds:
            run = pair_configs(config)[kind]
            result = fit(run, dataset, on_progress=on_progress, should_stop=should_stop, progress_bar=progress_bar)
            metrics = evaluate_model(result.model, dataset.test.x, iwae_k=iwae_k)
            metrics["train_seconds"] = result.seconds
            metrics["samples_per_second"] = result.samples_per_second
            save_checkpoint(
                target, result.model, result.config,
                data_stats=dataset.stats(), metrics=metrics, history=result.history,
            )
            results[kind] = result
        if fresh:
            target.rename(out)
    except BaseException:
        if fresh:
            shutil.rmtree(target, ignore_errors=True)
        raise
    return results


# The bundled pairs in checkpoints/: small MLPs (each model under 1 MB) that train in seconds.
def _moons(regime: str) -> RunConfig:
    return RunConfig(DataConfig("moons", regime=regime), ModelConfig(latent_dim=2), TrainConfig(epochs=40))


def _digits(latent_dim: int) -> RunConfig:
    return RunConfig(
        DataConfig("digits"), ModelConfig(latent_dim=latent_dim, hidden=(128, 64)), TrainConfig(epochs=150, batch_size=64)
    )


DEFAULTS: dict[str, RunConfig] = {
    "moons-sparse-2d": _moons("sparse"),
    "moons-gap-2d": _moons("gap"),
    "moons-full-2d": _moons("full"),
    "digits-2d": _digits(2),
    "digits-8d": _digits(8),
}


def default_config(name: str) -> RunConfig:
    return dataclasses.replace(DEFAULTS[name])
