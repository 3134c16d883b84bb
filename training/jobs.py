"""Training in the background: one thread per run, progress kept for whoever polls it.

Used by the app's train page; nothing here knows about streamlit. A process-wide registry
keeps the runs, so a limit on concurrent runs holds across all browser sessions.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .config import RunConfig
from .datasets import load_dataset
from .errors import LatentExplorerError
from .fit import Progress, TrainingCancelled, kinds_of
from .runs import check_run_config, train_and_save
from .store import safe_name

MAX_CONCURRENT_RUNS = 2
MAX_EPOCHS = 200
MAX_TRAIN_IMAGES = 20_000
MAX_RUN_SECONDS = 15 * 60  # wall-clock limit of one run
SNAPSHOT_POINTS = 600


@dataclass
class Job:
    """One pair being trained. Fields are written by the worker thread, read by pollers."""

    run_id: str
    config: RunConfig
    out: Path
    status: str = "queued"  # queued, running, done, failed, cancelled
    message: str = ""
    kind: str = ""  # the model being trained now
    epoch: int = 0
    history: dict[str, list[dict]] = field(default_factory=dict)  # kind -> per-epoch rows
    snapshots: dict[str, tuple[int, np.ndarray]] = field(default_factory=dict)  # kind -> (epoch, (N, D) codes)
    snapshot_colour: tuple[str, np.ndarray | None, list[str] | None] = ("none", None, None)  # kind, values, names
    started: float = field(default_factory=time.time)
    finished: float | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.history = {kind: [] for kind in kinds_of(self.config)}

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    @property
    def fraction(self) -> float:
        """Share of all epochs (both models) done."""
        total = len(self.history) * self.config.train.epochs
        done = sum(len(h) for h in self.history.values())
        return min(1.0, done / total)

    def cancel(self) -> None:
        self.cancel_event.set()


_JOBS: dict[str, Job] = {}
_LOCK = threading.Lock()


def new_run_id(config: RunConfig) -> str:
    data = config.data.name + (f"-{config.data.regime}" if config.data.name == "moons" else "")
    if config.model.condition != "none":
        data += f"-cvae-{config.model.condition}"
    beta = f"-b{config.model.beta:g}" if config.model.beta != 1 else ""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return safe_name(f"{data}-{config.model.latent_dim}d{beta}-{stamp}-{secrets.token_hex(2)}")


def check_limits(config: RunConfig) -> None:
    if config.train.epochs > MAX_EPOCHS:
        raise LatentExplorerError(f"at most {MAX_EPOCHS} epochs on this server (asked for {config.train.epochs})")
    if config.data.n_train is not None and config.data.n_train > MAX_TRAIN_IMAGES:
        raise LatentExplorerError(f"at most {MAX_TRAIN_IMAGES:,} training images on this server")
    active = [j for j in _JOBS.values() if j.active]
    if len(active) >= MAX_CONCURRENT_RUNS:
        raise LatentExplorerError(
            f"{len(active)} runs are training already; this server allows {MAX_CONCURRENT_RUNS} at once. "
            "Wait for one to finish or cancel yours."
        )


def start_job(config: RunConfig, runs_dir: str | Path, snapshot_every: int = 5) -> Job:
    """Validate, then train the pair in a background thread into runs_dir/<new id>."""
    check_run_config(config)
    with _LOCK:
        check_limits(config)
        run_id = new_run_id(config)
        job = Job(run_id, config, Path(runs_dir) / run_id)
        _JOBS[run_id] = job
    job.thread = threading.Thread(target=_work, args=(job, snapshot_every), name=f"train-{run_id}", daemon=True)
    job.thread.start()
    return job


def get_job(run_id: str) -> Job | None:
    return _JOBS.get(run_id)


def _probe(job: Job, dataset) -> torch.Tensor:
    """The test images whose codes the snapshots show, and how to colour them."""
    if len(dataset.train) > MAX_TRAIN_IMAGES:
        raise LatentExplorerError(
            f"the dataset has {len(dataset.train):,} training images; this server trains on at most "
            f"{MAX_TRAIN_IMAGES:,} (set a smaller training-set size)"
        )
    if dataset.test.y is not None:
        job.snapshot_colour = ("label", dataset.test.y[:SNAPSHOT_POINTS].numpy(), dataset.class_names)
    elif "phase" in dataset.test.factors:
        job.snapshot_colour = ("factor", dataset.test.factors["phase"][:SNAPSHOT_POINTS], None)
    return dataset.test.x[:SNAPSHOT_POINTS]


def _progress_recorder(job: Job, probe: torch.Tensor, snapshot_every: int):
    def on_progress(p: Progress) -> None:
        job.kind, job.epoch = p.kind, p.epoch
        job.history[p.kind].append(p.record)
        conditional = job.config.model.condition != "none"  # its codes need a condition: no snapshot
        if not conditional and (p.epoch == 1 or p.epoch % snapshot_every == 0 or p.epoch == p.epochs):
            with torch.no_grad():
                job.snapshots[p.kind] = (p.epoch, p.model.encode(probe).mean.numpy())

    return on_progress


def _stopper(job: Job, timed_out: list[bool]):
    deadline = time.time() + MAX_RUN_SECONDS

    def should_stop() -> bool:
        if time.time() > deadline:
            timed_out.append(True)
            return True
        return job.cancel_event.is_set()

    return should_stop


def _work(job: Job, snapshot_every: int) -> None:
    job.status = "running"
    timed_out: list[bool] = []
    try:
        dataset = load_dataset(job.config.data)
        probe = _probe(job, dataset)
        train_and_save(
            job.config,
            job.out,
            dataset=dataset,
            on_progress=_progress_recorder(job, probe, snapshot_every),
            should_stop=_stopper(job, timed_out),
            progress_bar=False,
            iwae_k=20,
        )
        job.status, job.message = "done", f"saved as runs/{job.run_id}"
    except TrainingCancelled:
        if timed_out:
            job.status = "failed"
            job.message = f"stopped at the time limit of {MAX_RUN_SECONDS // 60} minutes a run; nothing was saved"
        else:
            job.status, job.message = "cancelled", "cancelled; nothing was saved"
    except LatentExplorerError as exc:
        job.status, job.message = "failed", str(exc)
    except Exception as exc:  # a worker thread must always report, never die silently
        job.status, job.message = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        job.finished = time.time()
