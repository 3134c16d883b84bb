"""Training in the background: one thread per run, progress kept for whoever polls it.

Used by the app's train page; nothing here knows about streamlit. Runs belong to the server, not
to a browser tab: a process-wide registry keeps them, so any tab can list, watch and cancel any
run, a run whose tab is gone still finishes and saves, and the limit on concurrent runs holds
across all sessions. A run's id is its folder name under runs/; once saved, the folder and its
sidecars are its record (list_runs reads them back through training.store after a restart).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .checkpoint import _config_of, read_sidecar
from .config import RunConfig
from .datasets import load_dataset
from .devices import resolve_device
from .errors import LatentExplorerError
from .fit import Progress, TrainingCancelled, kinds_of
from .limits import MAX_CONCURRENT_RUNS, MAX_RUN_SECONDS, check_run, check_train_set
from .metrics import QUICK
from .runs import train_and_save
from .store import RUN_PREFIX, SetInfo, find_sets, safe_name

SNAPSHOT_POINTS = 600
KEPT_JOBS = 100  # ended runs remembered in memory (their snapshots); saved ones stay listed from runs/ anyway


@dataclass
class Job:
    """One pair being trained. Fields are written by the worker thread, read by pollers."""

    run_id: str
    config: RunConfig
    out: Path
    status: str = "queued"  # queued, running, finished, failed, cancelled
    message: str = ""
    error: LatentExplorerError | None = None  # why a run failed, with its key for the app's language
    kind: str = ""  # the model being trained now
    epoch: int = 0
    history: dict[str, list[dict]] = field(default_factory=dict)  # kind -> per-epoch rows
    snapshots: dict[str, tuple[int, np.ndarray]] = field(default_factory=dict)  # kind -> (epoch, (N, D) codes)
    snapshot_colour: tuple[str, np.ndarray | None, list[str] | None] = ("none", None, None)  # kind, values, names
    started: float = field(default_factory=time.time)
    finished: float | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    saved: bool = False  # read back from its folder (no snapshots: they live only in the server's memory)

    def __post_init__(self) -> None:
        self.history = self.history or {kind: [] for kind in kinds_of(self.config)}

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    @property
    def fraction(self) -> float:
        """Share of all epochs (both models) done."""
        if self.status == "finished":  # early stopping or a saved run: all there will be
            return 1.0
        total = len(self.history) * self.config.train.epochs
        done = sum(len(h) for h in self.history.values())
        return min(1.0, done / total)

    def cancel(self) -> None:
        self.cancel_event.set()


class RunsBusy(LatentExplorerError):
    """The server trains its limit of runs already; `running` are those runs, so a page can offer them."""

    def __init__(self, running: list[Job]) -> None:
        self.running = running
        names = ", ".join(job.run_id for job in running)
        super().__init__(
            f"{len(running)} {'run is' if len(running) == 1 else 'runs are'} training already ({names}); "
            f"this server allows {MAX_CONCURRENT_RUNS} at once. "
            "Watch or cancel one from its page, or wait for one to finish."
        )


_JOBS: dict[str, Job] = {}
_LOCK = threading.Lock()


def default_name(config: RunConfig) -> str:
    """dataset-regime-dim-time, e.g. moons-sparse-2d-20260612-1430 (plus -cvae-<condition>, -b<beta>)."""
    data = config.data.name + (f"-{config.data.regime}" if config.data.name == "moons" else "")
    if config.model.condition != "none":
        data += f"-cvae-{config.model.condition}"
    beta = f"-b{config.model.beta:g}" if config.model.beta != 1 else ""
    return safe_name(f"{data}-{config.model.latent_dim}d{beta}-{time.strftime('%Y%m%d-%H%M')}")


def _taken(name: str, runs_dir: Path) -> bool:
    """A live or remembered run has the id, or runs/ holds anything by that name (a saved set, a file)."""
    return name in _JOBS or (runs_dir / name).exists()


def run_name(config: RunConfig, runs_dir: str | Path, name: str | None = None) -> str:
    """The run's id and folder name: the user's name made safe by store.safe_name (refused when taken,
    so a link never changes meaning), or the default name with -2, -3, ... while taken."""
    runs_dir = Path(runs_dir)
    if name and name.strip():
        wanted = safe_name(name.strip())
        if _taken(wanted, runs_dir):
            raise LatentExplorerError(f"a run named {wanted!r} exists already on this server; choose another name")
        return wanted
    base = default_name(config)
    wanted, n = base, 1
    while _taken(wanted, runs_dir):
        n += 1
        wanted = f"{base}-{n}"
    return wanted


def check_free_slot() -> None:
    """RunsBusy while the server trains its limit of runs (call it holding _LOCK)."""
    active = [j for j in _JOBS.values() if j.active]
    if len(active) >= MAX_CONCURRENT_RUNS:
        raise RunsBusy(sorted(active, key=lambda j: j.started))


def device_line() -> str:
    """Where runs started from the app train: TrainConfig's default device, "auto", resolved on this server."""
    device, why = resolve_device("auto")
    return f"Runs train on this server's {device} ({why}), in float32."


def start_job(config: RunConfig, runs_dir: str | Path, snapshot_every: int = 5, name: str | None = None) -> Job:
    """Validate, then train the pair in a background thread into runs_dir/<name> (run_name)."""
    config.validate()
    check_run(config, server=True)
    with _LOCK:
        check_free_slot()
        run_id = run_name(config, runs_dir, name)
        job = Job(run_id, config, Path(runs_dir) / run_id)
        _forget_old()
        _JOBS[run_id] = job
    job.thread = threading.Thread(target=_work, args=(job, snapshot_every), name=f"train-{run_id}", daemon=True)
    job.thread.start()
    return job


def get_job(run_id: str) -> Job | None:
    """A run started since the server did (live or ended), by id."""
    return _JOBS.get(run_id)


def _forget_old() -> None:
    """Keep memory bounded: the oldest ended runs beyond KEPT_JOBS are dropped (saved ones stay listed)."""
    ended = sorted((j for j in _JOBS.values() if not j.active), key=lambda j: j.started)
    for job in ended[: max(0, len(ended) - KEPT_JOBS + 1)]:
        del _JOBS[job.run_id]


def _saved_run(info: SetInfo) -> Job | None:
    """A saved set under runs/ as a finished run: config and per-epoch history from its sidecars."""
    try:
        sidecars = {kind: read_sidecar(info.path / kind) for kind in info.kinds}
        lead = sidecars[info.kinds[-1]]  # the VAE of a pair, the regression of a conditional set: same run config
        config = _config_of(lead, info.id)  # the one sidecar -> RunConfig (checked as load_checkpoint does)
    except (LatentExplorerError, OSError, KeyError):  # changed since it was listed
        return None
    seconds = sum(float(s.get("metrics", {}).get("train_seconds", 0.0)) for s in sidecars.values())
    history = {kind: list(s.get("history") or []) for kind, s in sidecars.items()}
    run_id = info.id[len(RUN_PREFIX) :]
    last = info.kinds[-1]
    return Job(
        run_id,
        config,
        info.path,
        status="finished",
        message=f"saved as {info.id}",
        kind=last,
        epoch=len(history[last]),
        history=history,
        started=info.stamp - seconds,
        finished=info.stamp,
        saved=True,
    )


def _saved_runs() -> dict[str, SetInfo]:
    return {info.id[len(RUN_PREFIX) :]: info for info in find_sets().values() if info.id.startswith(RUN_PREFIX)}


def get_run(run_id: str) -> Job | None:
    """A run by id: live or remembered in memory, else read back from its folder under runs/."""
    job = _JOBS.get(run_id)
    if job is not None:
        return job
    info = _saved_runs().get(run_id)  # looked up among the listed sets: the id never becomes a path
    return _saved_run(info) if info is not None else None


def list_runs() -> list[Job]:
    """Every run on this server, newest first: active ones, then ended ones by when they ended.
    Saved sets under runs/ (also from before a restart, or imported) are finished runs."""
    runs = dict(_JOBS)
    for run_id, info in _saved_runs().items():
        if run_id not in runs:
            saved = _saved_run(info)
            if saved is not None:
                runs[run_id] = saved
    return sorted(runs.values(), key=lambda j: (j.active, j.finished or j.started), reverse=True)


def snapshot_points(dataset) -> tuple[torch.Tensor, tuple[str, np.ndarray | None, list[str] | None]]:
    """The test images whose codes the snapshots show, and how to colour them (Job.snapshot_colour)."""
    images = dataset.test.x[:SNAPSHOT_POINTS]
    if dataset.test.y is not None:
        return images, ("label", dataset.test.y[:SNAPSHOT_POINTS].numpy(), dataset.class_names)
    if "phase" in dataset.test.factors:
        return images, ("factor", dataset.test.factors["phase"][:SNAPSHOT_POINTS], None)
    return images, ("none", None, None)


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
        check_train_set(len(dataset.train))
        probe, job.snapshot_colour = snapshot_points(dataset)
        train_and_save(
            job.config,
            job.out,
            dataset=dataset,
            on_progress=_progress_recorder(job, probe, snapshot_every),
            should_stop=_stopper(job, timed_out),
            progress_bar=False,
            budget=QUICK,  # a save in minutes, not tens of minutes under load; the metrics record the budget
            new=True,  # another server process may have saved a run by this name since it was chosen
        )
        job.status, job.message = "finished", f"saved as {RUN_PREFIX}{job.run_id}"
    except TrainingCancelled:
        if timed_out:
            job.status = "failed"
            job.message = f"stopped at the time limit of {MAX_RUN_SECONDS // 60} minutes a run; nothing was saved"
        else:
            job.status, job.message = "cancelled", "nothing was saved"
    except LatentExplorerError as exc:
        job.status, job.message, job.error = "failed", str(exc), exc
    except Exception as exc:  # a worker thread must always report, never die silently
        job.status, job.message = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        job.finished = time.time()
