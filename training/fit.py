"""fit(): the one training loop, used by the command line and the app alike.

Small datasets stay as tensors and batches are slices of a shuffled copy: no per-item
Dataset/DataLoader work, which dominates the step time of models this small (bench/).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable

import torch

from . import distributed
from .conditions import condition_for, random_masks
from .config import RunConfig
from .datasets import Dataset, load_dataset
from .devices import Amp, OnDevice, Streamed, float32, place_data, resolve_device, resolve_precision
from .errors import TrainingCancelled, TrainingError
from .kinds import LABELS
from .losses import loss_terms
from .models import Autoencoder, build_model

EVAL_BATCH = 1024
log = logging.getLogger(__name__)


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


def with_data_shape(config: RunConfig, dataset: Dataset) -> RunConfig:
    """The model's input shape (and class count) come from the data, explicitly, before anything is built."""
    model = dataclasses.replace(config.model, in_shape=dataset.image_shape)
    if model.condition == "label":
        if dataset.train.y is None:
            raise TrainingError(
                f"label conditioning needs labelled data; {dataset.name} has no labels",
                key="err_fit_label_conditioning_needs",
                dataset=dataset.name,
            )
        classes = len(dataset.class_names) if dataset.class_names else int(dataset.train.y.max()) + 1
        model = dataclasses.replace(model, n_classes=classes)
    return dataclasses.replace(config, model=model)


def rank_randomness(
    model: torch.nn.Module, config: RunConfig, n: int, part: slice, generator: torch.Generator, device: torch.device
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """This rank's rows of the randomness a global batch of n needs: the half masks (shared generator)
    and the VAE's noise (seeded global RNG), drawn for all n rows on every rank and sliced, so each
    sample gets the draw it would get in one process. Under the IWAE objective: iwae_k draws per row."""
    masks = noise = None
    if config.model.condition == "half":
        masks = random_masks(n, config.model.in_shape, generator)[part].to(device)  # (rows, C, H, W)
    if distributed.unwrap(model).is_variational:
        draws = (config.train.iwae_k,) if config.train.objective == "iwae" and config.model.kind == "vae" else ()
        noise = torch.randn(n, *draws, config.model.latent_dim, device=device)[part]  # (rows, [K,] D)
    return masks, noise


def model_output(model, batch, labels, config: RunConfig, masks=None, noise=None, sample: bool | None = None):
    """AE/VAE: model(x). Conditional models: model(x, c) with c from the labels or the given half masks."""
    c = condition_for(config.model, batch, labels, masks=masks)
    if c is None:
        return model(batch, sample=sample, noise=noise)
    return model(batch, c.to(batch.device), sample=sample, noise=noise)


def shard_sums(terms, rows: int) -> torch.Tensor:
    """(3,) sums of the loss terms over this rank's rows (zeros for a rank with none)."""
    stacked = torch.stack([t.detach().float() for t in terms])
    return stacked * rows if rows else torch.zeros_like(stacked)


@torch.no_grad()
def evaluate(
    model: Autoencoder,
    x: torch.Tensor,
    config: RunConfig,
    seed: int = 0,
    y: torch.Tensor | None = None,
    world: distributed.World | None = None,
) -> dict[str, float]:
    """Mean loss terms per image over x; the VAE's z (and any random half mask) is sampled, seeded.
    Under torchrun each rank takes its shard of every batch and the sums are all-reduced."""
    world = world or distributed.World()
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    sums = torch.zeros(3, device=device)
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[] if device.type == "cpu" else [device]):
        torch.manual_seed(seed)
        for start in range(0, len(x), EVAL_BATCH):
            n = min(EVAL_BATCH, len(x) - start)
            part = distributed.shard(n, world)
            masks, noise = rank_randomness(model, config, n, part, generator, device)
            rows = slice(start + part.start, start + part.stop)
            batch = x[rows].to(device)
            output = model_output(model, batch, None if y is None else y[rows], config, masks, noise, sample=True)
            terms = loss_terms(output, batch, config.model.likelihood, config.model.beta, config.model.gaussian_sigma)
            sums += shard_sums(terms, len(batch))
    model.train(was_training)
    totals = distributed.all_reduce_sum(sums, world) / len(x)
    return dict(zip(("total", "reconstruction", "kl"), totals.tolist()))


@dataclass
class Trainer:
    """What one epoch needs besides the model: the data source, precision and this rank's place."""

    data: OnDevice | Streamed
    labels: torch.Tensor | None  # (N,) on the host
    amp: Amp
    world: distributed.World
    device: torch.device


def train_one_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    trainer: Trainer,
    config: RunConfig,
    generator: torch.Generator,
    kl_weight: float,
    epoch: int,
    should_stop: Callable[[], bool] | None,
) -> dict[str, float]:
    model.train()
    order = torch.randperm(len(trainer.data.x), generator=generator)  # the same on every rank
    plan = distributed.epoch_plan(order, config.train.batch_size, trainer.world)
    labels = None if trainer.labels is None else trainer.labels[plan.rows]
    per_batch = []  # (3,) sums of the terms over this rank's rows; read once per epoch, not once per step
    for (batch, rows), n, part in zip(trainer.data.batches(plan.rows, plan.bounds), plan.sizes, plan.parts):
        if should_stop is not None and should_stop():
            raise TrainingCancelled("training was cancelled", key="err_fit_training_cancelled")
        masks, noise = rank_randomness(model, config, n, part, generator, trainer.device)
        with trainer.amp.autocast():
            output = model_output(model, batch, None if labels is None else labels[rows], config, masks, noise)
        terms = loss_terms(float32(output), batch, config.model.likelihood, kl_weight, config.model.gaussian_sigma)
        optimizer.zero_grad(set_to_none=True)
        trainer.amp.step(terms.total * distributed.loss_weight(len(batch), n, trainer.world), optimizer)
        per_batch.append(shard_sums(terms, len(batch)))
    stacked = distributed.all_reduce_sum(torch.stack(per_batch), trainer.world)  # (steps, 3), summed over ranks
    finite = torch.isfinite(stacked).all(1)
    if not bool(finite.all()):
        step = int((~finite).nonzero()[0])
        raise TrainingError(
            f"{LABELS[config.model.kind]} loss became {float(stacked[step, 0] / plan.sizes[step])} at epoch {epoch}, "
            f"batch {step + 1}; try a lower learning rate (now {config.train.lr:g})",
            key="err_fit_loss_became_epoch",
            model=LABELS[config.model.kind],
            loss=float(stacked[step, 0] / plan.sizes[step]),
            epoch=epoch,
            batch=step + 1,
            lr=config.train.lr,
        )
    totals = stacked.sum(0) / len(order)
    return dict(zip(("total", "reconstruction", "kl"), totals.tolist()))


def setup(config: RunConfig, dataset: Dataset) -> tuple[RunConfig, Trainer, str]:
    """Resolve the world, device, precision and data placement once; returns the config as trained
    (device resolved, world size filled in), the trainer, and one line for the log."""
    world = distributed.world()
    distributed.check_batch(config.train.batch_size, world)
    config = with_data_shape(config, dataset)
    config.model.validate()  # the shape and class count the data gave
    device, why = resolve_device(config.train.device, world.local_rank, world.world_size)
    amp = resolve_precision(config.train.precision, device)
    if config.train.threads is not None:
        torch.set_num_threads(config.train.threads)
    distributed.init(device, world)
    config = dataclasses.replace(
        config, train=dataclasses.replace(config.train, device=str(device), world_size=world.world_size)
    )
    trainer = Trainer(place_data(dataset.train.x, device), dataset.train.y, amp, world, device)
    megabytes = dataset.train.x.element_size() * dataset.train.x.nelement() / 1e6
    processes = f"{world.world_size} processes (DDP, {distributed.backend_for(device)})" if world.distributed else ""
    line = (
        f"{LABELS[config.model.kind]}: device {device} ({why}), precision {amp.name}, "
        f"data {trainer.data.where} ({megabytes:,.1f} MB){', ' + processes if processes else ''}"
    )
    return config, trainer, line


def fit(
    config: RunConfig,
    dataset: Dataset | None = None,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress_bar: bool = True,
) -> FitResult:
    """Train one model as the config says; returns it with its per-epoch history.
    Under torchrun, call it on every rank: they train one model together (DistributedDataParallel)."""
    config.validate()
    dataset = dataset if dataset is not None else load_dataset(config.data)
    config, trainer, line = setup(config, dataset)
    world = trainer.world
    if world.main:
        log.info(line)
    set_seed(config.train.seed)
    module = build_model(config.model).to(trainer.device)
    model = distributed.wrap(module, trainer.device, world)
    optimizer = make_optimizer(module, config.train.lr)
    generator = torch.Generator().manual_seed(config.train.seed)
    bar = None
    if progress_bar and world.main:
        from tqdm.auto import tqdm

        desc = f"{LABELS[config.model.kind]} {dataset.name}"
        bar = tqdm(total=config.train.epochs, desc=desc, unit="epoch", leave=True)
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    train_seconds = 0.0
    try:
        for epoch in range(1, config.train.epochs + 1):
            warmup = config.train.kl_warmup_epochs
            kl_weight = config.model.beta * (min(1.0, epoch / warmup) if warmup else 1.0)
            epoch_start = time.perf_counter()
            train_terms = train_one_epoch(model, optimizer, trainer, config, generator, kl_weight, epoch, should_stop)
            train_seconds += time.perf_counter() - epoch_start
            test_terms = evaluate(module, dataset.test.x, config, seed=epoch, y=dataset.test.y, world=world)
            record = {"epoch": epoch, "seconds": time.perf_counter() - started}
            record.update({f"train_{k}": v for k, v in train_terms.items()})
            record.update({f"test_{k}": v for k, v in test_terms.items()})
            if not all(math.isfinite(v) for v in record.values()):
                raise TrainingError(
                    f"test loss is not finite at epoch {epoch}; try a lower learning rate",
                    key="err_fit_test_loss_finite",
                    epoch=epoch,
                )
            history.append(record)
            if bar is not None:
                bar.set_postfix(recon=f"{record['train_reconstruction']:.2f}", kl=f"{record['train_kl']:.2f}")
                bar.update(1)
            if on_progress is not None and world.main:
                module.eval()
                on_progress(Progress(config.model.kind, epoch, config.train.epochs, record, module))
    except torch.distributed.DistError as exc:
        raise distributed.rank_error(exc, world) from None
    finally:
        if bar is not None:
            bar.close()
    module.eval()
    seconds = time.perf_counter() - started
    samples = len(dataset.train) * config.train.epochs
    return FitResult(module, config, history, seconds, samples / max(train_seconds, 1e-9))


def pair_configs(config: RunConfig) -> dict[str, RunConfig]:
    """A pair: an AE and a VAE from the same data, architecture, seed and schedule (the posterior
    family is the VAE's alone: the AE's code is a point)."""
    return {
        kind: dataclasses.replace(
            config,
            model=dataclasses.replace(
                config.model, kind=kind, posterior=config.model.posterior if kind == "vae" else "diag"
            ),
        )
        for kind in kinds_of(config)
    }


def kinds_of(config: RunConfig) -> tuple[str, ...]:
    """What a run trains: AE + VAE, or (with a condition) the CVAE and its regression baseline."""
    return ("cvae", "regression") if config.model.condition != "none" else ("ae", "vae")
