"""fit(): the one training loop, used by the command line and the app alike.

Small datasets stay as tensors and batches are slices of a shuffled copy: no per-item
Dataset/DataLoader work, which dominates the step time of models this small (bench/).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Callable

import torch

from .conditions import condition_for
from .config import RunConfig
from .datasets import Dataset, load_dataset
from .errors import TrainingCancelled, TrainingError
from .losses import loss_terms
from .models import Autoencoder, build_model

EVAL_BATCH = 1024


@dataclass
class Progress:
    kind: str  # "ae" or "vae"
    epoch: int  # 1-based, finished epochs
    epochs: int
    record: dict[str, float]  # this epoch's row of the history
    model: Autoencoder  # for snapshots (eval mode while the callback runs)


@dataclass
class FitResult:
    model: Autoencoder
    config: RunConfig  # with in_shape filled in from the data
    history: list[dict[str, float]]
    seconds: float
    samples_per_second: float


def make_optimizer(model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    """Adam; the fused kernel where this torch has it (one pass over the weights, not a dozen)."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(model.parameters(), lr=lr)


def set_seed(seed: int) -> None:
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("device 'cuda' asked for, but PyTorch sees no CUDA device; use --device cpu")
    return torch.device(name)


def with_data_shape(config: RunConfig, dataset: Dataset) -> RunConfig:
    """The model's input shape (and class count) come from the data, explicitly, before anything is built."""
    model = dataclasses.replace(config.model, in_shape=dataset.image_shape)
    if model.condition == "label":
        if dataset.train.y is None:
            raise TrainingError(f"label conditioning needs labelled data; {dataset.name} has no labels")
        classes = len(dataset.class_names) if dataset.class_names else int(dataset.train.y.max()) + 1
        model = dataclasses.replace(model, n_classes=classes)
    return dataclasses.replace(config, model=model)


def model_output(
    model,
    batch: torch.Tensor,
    labels: torch.Tensor | None,
    config: RunConfig,
    generator: torch.Generator | None,
    sample: bool | None = None,
):
    """AE/VAE: model(x). Conditional models: model(x, c) with c from the labels or a random half."""
    c = condition_for(config.model, batch, labels, generator)
    return model(batch, sample=sample) if c is None else model(batch, c.to(batch.device), sample=sample)


@torch.no_grad()
def evaluate(
    model: Autoencoder, x: torch.Tensor, config: RunConfig, seed: int = 0, y: torch.Tensor | None = None
) -> dict[str, float]:
    """Mean loss terms per image over x; the VAE's z (and any random half mask) is sampled, seeded."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    sums = {"total": 0.0, "reconstruction": 0.0, "kl": 0.0}
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for start in range(0, len(x), EVAL_BATCH):
            batch = x[start : start + EVAL_BATCH].to(device)
            labels = None if y is None else y[start : start + EVAL_BATCH]
            terms = loss_terms(
                model_output(model, batch, labels, config, generator, sample=True),
                batch,
                config.model.likelihood,
                config.model.beta,
                config.model.gaussian_sigma,
            )
            for key, value in zip(sums, terms):
                sums[key] += float(value.detach()) * len(batch)
    model.train(was_training)
    return {key: value / len(x) for key, value in sums.items()}


def train_one_epoch(
    model: Autoencoder,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    config: RunConfig,
    generator: torch.Generator,
    kl_weight: float,
    epoch: int,
    should_stop: Callable[[], bool] | None,
    y: torch.Tensor | None = None,
) -> dict[str, float]:
    model.train()
    device = next(model.parameters()).device
    batch_size = config.train.batch_size
    order = torch.randperm(len(x), generator=generator)
    shuffled = x[order].to(device)  # one gather per epoch
    labels = None if y is None else y[order]
    per_batch = []  # (3,) terms times batch size; read once per epoch, not once per step
    for start in range(0, len(shuffled), batch_size):
        if should_stop is not None and should_stop():
            raise TrainingCancelled("training was cancelled")
        batch = shuffled[start : start + batch_size]
        batch_labels = None if labels is None else labels[start : start + batch_size]
        terms = loss_terms(
            model_output(model, batch, batch_labels, config, generator),
            batch,
            config.model.likelihood,
            kl_weight,
            config.model.gaussian_sigma,
        )
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        optimizer.step()
        per_batch.append(torch.stack([t.detach() for t in terms]) * len(batch))
    stacked = torch.stack(per_batch)  # (steps, 3)
    finite = torch.isfinite(stacked).all(1)
    if not bool(finite.all()):
        step = int((~finite).nonzero()[0])
        raise TrainingError(
            f"{config.model.kind.upper()} loss became {float(stacked[step, 0] / batch_size)} at epoch {epoch}, "
            f"batch {step + 1}; try a lower learning rate (now {config.train.lr:g})"
        )
    totals = stacked.sum(0) / len(shuffled)
    return dict(zip(("total", "reconstruction", "kl"), totals.tolist()))


def fit(
    config: RunConfig,
    dataset: Dataset | None = None,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress_bar: bool = True,
) -> FitResult:
    """Train one model as the config says; returns it with its per-epoch history."""
    config.data.validate()
    config.train.validate()
    dataset = dataset if dataset is not None else load_dataset(config.data)
    config = with_data_shape(config, dataset)
    config.model.validate()
    if config.train.threads is not None:
        torch.set_num_threads(config.train.threads)
    device = resolve_device(config.train.device)

    set_seed(config.train.seed)
    model = build_model(config.model).to(device)
    optimizer = make_optimizer(model, config.train.lr)
    generator = torch.Generator().manual_seed(config.train.seed)
    x_train, x_test = dataset.train.x, dataset.test.x

    epochs = config.train.epochs
    bar = None
    if progress_bar:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc=f"{config.model.kind.upper()} {dataset.name}", unit="epoch", leave=True)
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    train_seconds = 0.0
    try:
        for epoch in range(1, epochs + 1):
            warmup = config.train.kl_warmup_epochs
            kl_weight = config.model.beta * (min(1.0, epoch / warmup) if warmup else 1.0)
            epoch_start = time.perf_counter()
            train_terms = train_one_epoch(
                model, optimizer, x_train, config, generator, kl_weight, epoch, should_stop, dataset.train.y
            )
            train_seconds += time.perf_counter() - epoch_start
            test_terms = evaluate(model, x_test, config, seed=epoch, y=dataset.test.y)
            record = {"epoch": epoch, "seconds": time.perf_counter() - started}
            record.update({f"train_{k}": v for k, v in train_terms.items()})
            record.update({f"test_{k}": v for k, v in test_terms.items()})
            if not all(math.isfinite(v) for v in record.values()):
                raise TrainingError(f"test loss is not finite at epoch {epoch}; try a lower learning rate")
            history.append(record)
            if bar is not None:
                bar.set_postfix(recon=f"{record['train_reconstruction']:.2f}", kl=f"{record['train_kl']:.2f}")
                bar.update(1)
            if on_progress is not None:
                model.eval()
                on_progress(Progress(config.model.kind, epoch, epochs, record, model))
    finally:
        if bar is not None:
            bar.close()
    model.eval()
    seconds = time.perf_counter() - started
    samples = len(x_train) * epochs
    return FitResult(model, config, history, seconds, samples / max(train_seconds, 1e-9))


def pair_configs(config: RunConfig) -> dict[str, RunConfig]:
    """A pair: an AE and a VAE from the same data, architecture, seed and schedule."""
    return {
        kind: dataclasses.replace(config, model=dataclasses.replace(config.model, kind=kind))
        for kind in kinds_of(config)
    }


def kinds_of(config: RunConfig) -> tuple[str, ...]:
    """What a run trains: AE + VAE, or (with a condition) the CVAE and its regression baseline."""
    return ("cvae", "regression") if config.model.condition != "none" else ("ae", "vae")
