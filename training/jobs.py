"""Runs as worker processes: a queue, status in the run folder, cancel from anywhere.

Nothing here knows about streamlit. A run is a folder under runs/ (its name is the run's id) and a
worker process, `python -m training worker <folder>`, started at lower CPU priority (nice) by
whichever process promotes it. The folder is the one record of the run: every server process (and
every tab of each) lists, watches and cancels a run by reading and writing its folder; no process
holds a run in memory that another could not see.

The run-folder contract (runs/<id>/):

  job.json        The run's state, replaced atomically (temporary file + rename) under run.lock:
                  {"version": 1, "run_id", "config": {"data", "model", "train"} (config.to_dict),
                   "status": "queued" | "running" | "finished" | "failed" | "cancelled",
                   "message": why it ended (English, as the CLI and logs say it),
                   "error": a failed run's reason as errors.record keeps it ({"key", "values"}, nested for
                            its phase and cause): what the app words in the reader's language, or null,
                   "created" / "started" / "finished": Unix times,
                   "phase": {"name": "starting" | "loading" | "training" | "measuring" | "saving",
                             "kind": "ae" ..., "epoch", "epochs", "what": "ELBO" | "IWAE" | ..., "since"},
                   "worker": {"pid", "host", "ticks" (its /proc start time), "exit"} or null,
                   "max_seconds", "snapshot_every"}
  progress.jsonl  One JSON object per finished epoch, {"kind": ..., **the history row}, appended.
  snapshots.npz   The probe images' codes at the latest snapshot, per kind ("<kind>_codes",
                  "<kind>_epoch") and how to colour them ("colour_kind", "colour_values",
                  "colour_names"); replaced atomically; no pickles.
  heartbeat       Touched by the worker every HEARTBEAT_SECONDS.
  cancel          Exists once anyone asked the run to stop; the worker polls it between batches
                  and between its measurements, and stops within one batch.
  worker.log      The worker's stdout and stderr.
  run.lock        flock(2) held while job.json is read, changed and replaced (no lost updates).
  ae.json ...     The saved set, once the worker has trained and measured every model: written
                  into a hidden .set/ folder first, then renamed in member by member, the lead's
                  sidecar (vae.json / cvae.json) last, so a listing sees the whole set or none.
runs/.queue.lock  flock held while queued runs are promoted to workers.

At most max_runs() run at once across every process sharing runs/; more wait as
"queued", in order of creation. Who starts a queued run: any process that calls promote() when a
slot is free (start_job, any list or view of the runs, and the worker that finishes, just before
it exits), so queued runs start even when no page is open and survive a server restart. A worker
is dead when its pid is gone (same host; checked with its /proc start time so a reused pid does not
count) or its heartbeat is older than STALE_SECONDS (another host); whoever notices marks the run
failed with the reason and removes any half-published set. Folders without job.json (imported
sets, runs saved before workers existed) are finished runs read from their sidecars.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import DataConfig, ModelConfig, RunConfig, TrainConfig, from_dict, to_dict
from .errors import LatentExplorerError, Phrase, Quoted, TrainingCancelled, TrainingError, from_record, record
from .limits import MAX_CONCURRENT_RUNS, MAX_EPOCHS, MAX_RUN_SECONDS, check_run, check_train_set
from .store import LEADS, RUN_PREFIX, SET_KINDS, FolderBusy, check_out_dir, hold, safe_name
from .store import runs_dir as default_runs_dir

MAX_QUEUED_RUNS = 50  # runs waiting beyond the running ones: a bound on what one class can pile up
SNAPSHOT_POINTS = 600
MAX_PROGRESS_BYTES = 4 * 2**20  # 2 x 200 epochs of rows take ~0.2 MB; a file past this is not a worker's
MAX_SNAPSHOT_BYTES = 16 * 2**20
ROW_KEYS = {"epoch", "seconds"} | {f"{s}_{t}" for s in ("train", "test") for t in ("total", "reconstruction", "kl")}
HEARTBEAT_SECONDS = 2.0
STALE_SECONDS = 30.0  # a heartbeat this old means the worker is gone (when its pid cannot be checked)
START_SECONDS = 60.0  # a promoted run whose worker never recorded itself is failed after this
ACTIVE = ("queued", "running")
STATE, PROGRESS, SNAPSHOTS, HEARTBEAT, CANCEL, LOG, LOCK = (
    "job.json",
    "progress.jsonl",
    "snapshots.npz",
    "heartbeat",
    "cancel",
    "worker.log",
    "run.lock",
)
SET_STAGING = ".set"
ROOT = Path(__file__).resolve().parent.parent
HOST = socket.gethostname()

_CHILDREN: dict[int, subprocess.Popen] = {}  # workers this process started: polled so none stays a zombie


@dataclass
class Job:
    """A run as its folder says (read by get_run / list_runs): status, phase, history, snapshots."""

    run_id: str
    config: RunConfig | None  # None in list_runs' summaries
    out: Path
    status: str = "queued"  # queued, running, finished, failed, cancelled
    message: str = ""
    phase: dict = field(default_factory=dict)  # name, kind, epoch, epochs, what, since
    error: Phrase | None = None  # why a run failed (job.json's record): its key and values for the app's language
    history: dict[str, list[dict]] = field(default_factory=dict)  # kind -> per-epoch rows
    snapshots: dict[str, tuple[int, np.ndarray]] = field(default_factory=dict)  # kind -> (epoch, (N, D) codes)
    snapshot_colour: tuple[str, np.ndarray | None, list[str] | None] = ("none", None, None)  # kind, values, names
    created: float = 0.0
    started: float | None = None
    finished: float | None = None
    cancelling: bool = False  # a cancel was asked for and the worker has not stopped yet
    place: int = 0  # queued: 1 for the next to start
    saved: bool = False  # a set read back from its sidecars alone (imported, or saved before workers)
    epochs: int = 0  # each model's epochs (the config's, also known to summaries)

    def __post_init__(self) -> None:
        if self.config is not None:
            self.history = self.history or {kind: [] for kind in _kinds(self.config)}
            self.epochs = self.config.train.epochs

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def kind(self) -> str:
        return self.phase.get("kind", "")

    @property
    def epoch(self) -> int:
        return int(self.phase.get("epoch", 0))

    @property
    def fraction(self) -> float:
        """Share of all epochs (every model) done."""
        if self.status == "finished":  # early stopping or a saved run: all there will be
            return 1.0
        total = len(self.history) * self.epochs
        done = sum(len(h) for h in self.history.values())
        return min(1.0, done / max(total, 1))

    def cancel(self) -> None:
        cancel(self.run_id, self.out.parent)


def max_runs() -> int:
    """Runs allowed to train at once: $LATENT_EXPLORER_MAX_RUNS (every process sharing runs/ must
    agree, so it is the environment's, not a process's), else MAX_CONCURRENT_RUNS."""
    try:
        return max(0, int(os.environ.get("LATENT_EXPLORER_MAX_RUNS", MAX_CONCURRENT_RUNS)))
    except ValueError:
        return MAX_CONCURRENT_RUNS


def _kinds(config: RunConfig) -> tuple[str, ...]:
    return SET_KINDS["conditional" if config.model.condition != "none" else "pair"]


# --- files and locks ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive flock on path (created if missing), held for the block."""
    with open(path, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _write_json(path: Path, value: dict) -> None:
    from .checkpoint import atomic_write_bytes

    atomic_write_bytes(path, json.dumps(value, indent=1).encode())


def read_state(folder: Path) -> dict | None:
    """job.json of a run folder, or None (no such file, or not a run's state)."""
    try:
        state = json.loads((folder / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return state if _valid_state(state, folder.name) else None


def _valid_state(state, name: str) -> bool:
    """job.json of the shape this module writes (a file in runs/ is as untrusted as an upload)."""
    from .store import job_summary

    return (
        isinstance(state, dict)
        and state.get("version") == 1
        and state.get("run_id") == name
        and isinstance(state.get("config"), dict)
        and all(isinstance(state["config"].get(k), dict) for k in ("data", "model", "train"))
        and job_summary(state) is not None
        and isinstance(state.get("phase") or {}, dict)
        and isinstance(state.get("worker") or {}, dict)
        and isinstance(state.get("max_seconds", 0), (int, float))
        and isinstance(state.get("snapshot_every", 5), int)
    )


def _update(folder: Path, change) -> dict | None:
    """Read job.json under the run's lock, let change(state) edit it (returning False to leave it),
    write it back atomically; returns the state as it now is."""
    with _locked(folder / LOCK):
        state = read_state(folder)
        if state is None:
            return None
        if change(state) is not False:
            _write_json(folder / STATE, state)
        return state


def _config(state: dict) -> RunConfig:
    c = state["config"]
    return RunConfig(
        from_dict(DataConfig, c["data"]), from_dict(ModelConfig, c["model"]), from_dict(TrainConfig, c["train"])
    )


# --- names and limits ----------------------------------------------------------------------------------


def default_name(config: RunConfig) -> str:
    """dataset-regime-dim-time, e.g. moons-sparse-2d-20260612-1430 (plus -cvae-<condition>, -b<beta>)."""
    data = config.data.name + (f"-{config.data.regime}" if config.data.name == "moons" else "")
    if config.model.condition != "none":
        data += f"-cvae-{config.model.condition}"
    beta = f"-b{config.model.beta:g}" if config.model.beta != 1 else ""
    return safe_name(f"{data}-{config.model.latent_dim}d{beta}-{time.strftime('%Y%m%d-%H%M')}")


def run_name(config: RunConfig, runs_dir: str | Path, name: str | None = None) -> str:
    """The run's id and folder name: the user's name made safe by store.safe_name (refused when taken,
    so a link never changes meaning), or the default name with -2, -3, ... while taken."""
    runs_dir = Path(runs_dir)
    if name and name.strip():
        wanted = safe_name(name.strip())
        if (runs_dir / wanted).exists():
            raise LatentExplorerError(
                f"a run named {wanted!r} exists already on this server; choose another name",
                key="err_run_run_named_exists",
                wanted=repr(wanted),
            )
        return wanted
    base = default_name(config)
    wanted, n = base, 1
    while (runs_dir / wanted).exists():
        n += 1
        wanted = f"{base}-{n}"
    return wanted


def device_line() -> str:
    """Where runs started from the app train: TrainConfig's default device, "auto", resolved on this server."""
    from .devices import resolve_device

    device, why = resolve_device("auto")
    return f"Runs train on this server's {device} ({why}), in float32."


# --- starting, queueing, cancelling ------------------------------------------------------------------------


def start_job(config: RunConfig, runs_dir: str | Path, snapshot_every: int = 5, name: str | None = None) -> Job:
    """Validate, then queue the run in runs_dir/<name> (run_name) and start it if a slot is free.
    Returns the run as its folder now says (queued, or running)."""
    config.validate()
    check_run(config, server=True)
    runs_dir = Path(runs_dir)
    check_out_dir(runs_dir / (safe_name(name) if name and name.strip() else "run"))  # not checkpoints/; writable
    runs_dir.mkdir(parents=True, exist_ok=True)
    with _locked(runs_dir / ".queue.lock"):  # names and the queue's bound: one creator at a time
        if len(_active_states(runs_dir)["queued"]) >= MAX_QUEUED_RUNS:
            raise LatentExplorerError(
                f"{MAX_QUEUED_RUNS} runs are waiting already; try again when some have started",
                key="err_run_runs_waiting_already",
                max_queued_runs=MAX_QUEUED_RUNS,
            )
        run_id = run_name(config, runs_dir, name)
        folder = runs_dir / run_id
        with hold(folder):  # FolderBusy now when another writer (the CLI, an import) holds the name
            try:
                folder.mkdir()  # exclusive: a folder another writer just made is refused
            except FileExistsError:
                raise LatentExplorerError(
                    f"a run named {run_id!r} was saved meanwhile; choose another name",
                    key="err_run_run_named_saved",
                    run_id=repr(run_id),
                ) from None
            state = {
                "version": 1,
                "run_id": run_id,
                "config": {part: to_dict(getattr(config, part)) for part in ("data", "model", "train")},
                "status": "queued",
                "message": "",
                "created": time.time(),
                "started": None,
                "finished": None,
                "phase": {"name": "queued", "since": time.time()},
                "worker": None,
                "max_seconds": MAX_RUN_SECONDS,
                "snapshot_every": snapshot_every,
            }
            _write_json(folder / STATE, state)
    _index_changed(runs_dir, run_id)
    promote(runs_dir)
    return get_run(run_id, runs_dir)


def cancel(run_id: str, runs_dir: str | Path | None = None) -> None:
    """Ask a run to stop, from any process: a queued one is cancelled at once, a running one's
    worker sees the cancel file within a batch. Ended or unknown runs: nothing happens."""
    folder = _folder(run_id, runs_dir)
    if folder is None:
        return

    def change(state):
        if state["status"] == "queued":
            state.update(status="cancelled", message="cancelled before it started; nothing was saved")
            state["finished"] = time.time()
            return None
        if state["status"] == "running":
            (folder / CANCEL).touch()
        return False

    if _update(folder, change) is not None:
        _index_changed(folder.parent, folder.name)
        promote(folder.parent)


def remove_run(run_id: str, runs_dir: str | Path | None = None) -> None:
    """Remove an ended run's folder (its set, if it saved one, with it), from any process. Refused with
    a keyed LatentExplorerError while the run is queued or running, and while any writer holds the
    folder (store.hold: a worker, the CLI, an import). The folder is renamed to a hidden staging name
    first (atomic: a listing sees it whole or not at all), then deleted; a removal killed half-way
    leaves only staging, which store.clean_stale_staging clears."""
    from .store import STAGING_SUFFIX, FolderBusy, index_changed

    folder = _folder(run_id, runs_dir)
    if folder is None:
        raise _gone(run_id)
    try:
        with hold(folder), _locked(folder / LOCK):  # no writer of it now, and no state change while we look
            state = read_state(folder)
            if state is not None and state["status"] in ACTIVE:
                raise LatentExplorerError(
                    f"Run {run_id} is still queued or training: cancel it first, then remove it.",
                    key="err_run_active",
                    run=run_id,
                )
            trash = folder.parent / f".{folder.name}.removed{STAGING_SUFFIX}"
            shutil.rmtree(trash, ignore_errors=True)
            os.rename(folder, trash)
    except FolderBusy:
        raise LatentExplorerError(
            f"Run {run_id} is being written by another process right now; nothing was removed. Try again when it "
            "is done.",
            key="err_run_busy",
            run=run_id,
        ) from None
    except FileNotFoundError:  # removed by someone else meanwhile
        raise _gone(run_id) from None
    index_changed(folder.parent, folder.name)
    shutil.rmtree(trash, ignore_errors=True)


def _gone(run_id: object) -> LatentExplorerError:
    run = str(run_id)[:80]  # an id from a URL or a click: shown, never used as a path
    return LatentExplorerError(f"No run {run} on this server (removed meanwhile?).", key="err_run_gone", run=run)


def _folder(run_id: str, runs_dir: str | Path | None) -> Path | None:
    """The run's folder, if run_id is a plain folder name of runs/ (an id never becomes a path elsewhere)."""
    if not isinstance(run_id, str) or run_id != safe_name(run_id):
        return None
    folder = Path(runs_dir or default_runs_dir()) / run_id
    return folder if folder.is_dir() else None


def active_folders(runs_dir: str | Path) -> list[Path]:
    """The folders of runs/ whose run is queued or running."""
    from .store import active_runs

    return active_runs(Path(runs_dir))


def _active_states(runs_dir: Path) -> dict[str, list[dict]]:
    """job.json of every queued and running run, oldest first (a scan of runs/*/job.json)."""
    from .store import active_runs

    found: dict[str, list[dict]] = {"queued": [], "running": []}
    for folder in active_runs(runs_dir):
        state = read_state(folder)
        if state is not None and state["status"] in found:
            found[state["status"]].append(state)
    for states in found.values():
        states.sort(key=lambda s: s["created"])
    return found


def promote(runs_dir: str | Path | None = None) -> list[str]:
    """Mark dead workers' runs failed, then start queued runs while fewer than max_runs()
    run. Safe from any process at any time (one promoter at a time, under runs/.queue.lock)."""
    runs_dir = Path(runs_dir or default_runs_dir())
    if not runs_dir.is_dir():
        return []
    for popen in list(_CHILDREN.values()):  # reap our own ended workers
        if popen.poll() is not None:
            _CHILDREN.pop(popen.pid, None)
    started = []
    with _locked(runs_dir / ".queue.lock"):
        states = _active_states(runs_dir)
        running = [s for s in states["running"] if not reap(runs_dir / s["run_id"])]
        for state in states["queued"][: max(0, max_runs() - len(running))]:
            if _launch(runs_dir / state["run_id"]):
                started.append(state["run_id"])
    return started


def _launch(folder: Path) -> bool:
    """Mark a queued run running and start its worker process."""

    def claim(state):
        if state["status"] != "queued":
            return False
        now = time.time()
        state.update(status="running", started=now, phase={"name": "starting", "since": now})
        state["worker"] = {"pid": None, "host": HOST, "ticks": None, "since": now}

    state = _update(folder, claim)
    if state is None or state["status"] != "running" or state["worker"]["pid"] is not None:
        return False
    popen = spawn(folder)
    _CHILDREN[popen.pid] = popen

    def record(state):
        if state.get("worker") and state["worker"]["pid"] is None:
            state["worker"].update(pid=popen.pid, ticks=_start_ticks(popen.pid))
            return None
        return False

    _update(folder, record)
    _index_changed(folder.parent, folder.name)
    return True


def spawn(folder: Path) -> subprocess.Popen:
    """`python -m training worker <folder>` in its own session (a server's Ctrl-C or restart does not
    stop it), its output into the folder's worker.log. The worker lowers its own priority first thing."""
    with open(folder / LOG, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "training", "worker", str(folder)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


# --- dead workers ------------------------------------------------------------------------------------


def _start_ticks(pid: int) -> int | None:
    """A process's start time in clock ticks since boot (/proc/<pid>/stat field 22): with the pid it
    names one process, so a pid reused after a worker died is not taken for the worker."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return None if fields[0] == "Z" else int(fields[19])  # a zombie has ended


def _alive(worker: dict) -> bool | None:
    """True / False on this host; None when it cannot be told (another host: use the heartbeat)."""
    if worker.get("host") != HOST or not worker.get("pid"):
        return None
    pid = worker["pid"]
    popen = _CHILDREN.get(pid)
    if popen is not None:
        return popen.poll() is None
    if Path("/proc").is_dir():
        ticks = _start_ticks(pid)
        return ticks is not None and (worker.get("ticks") is None or ticks == worker["ticks"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _heartbeat_age(folder: Path) -> float | None:
    try:
        return time.time() - (folder / HEARTBEAT).stat().st_mtime
    except OSError:
        return None


def _death(folder: Path, state: dict) -> TrainingError | None:
    """Why a running run's worker is known to be gone, or None while it may be alive."""
    worker = state.get("worker") or {}
    age = _heartbeat_age(folder)
    if not worker.get("pid"):
        since = worker.get("since") or state.get("started") or 0
        if time.time() - since > START_SECONDS and (age is None or age > STALE_SECONDS):
            return TrainingError(
                f"its worker process did not start within {START_SECONDS:.0f} s",
                key="err_run_no_start",
                seconds=START_SECONDS,
            )
        return None
    alive = _alive(worker)
    if alive is False or (alive is None and age is not None and age > STALE_SECONDS):
        popen = _CHILDREN.get(worker["pid"])
        code = popen.returncode if popen is not None else None
        how = Phrase("killed or crashed", "run_how_crashed")
        if code is not None and code < 0:
            how = Phrase(f"killed by signal {-code}", "run_how_signal", signal=-code)
        pid, phase, last = worker["pid"], phase_words(state.get("phase") or {}), _last_log_line(folder)
        if last:
            last = Quoted(last, "quoted_log_line")
            return TrainingError(
                f"its worker process ({pid}) ended while {phase} ({how}); its log ends: {last}",
                key="err_run_died_log",
                pid=pid,
                phase=phase,
                how=how,
                last=last,
            )
        return TrainingError(
            f"its worker process ({pid}) ended while {phase} ({how})", key="err_run_died", pid=pid, phase=phase, how=how
        )
    return None


def _last_log_line(folder: Path, limit: int = 300) -> str:
    try:
        with open(folder / LOG, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            lines = f.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:limit] if lines else ""


def reap(folder: Path) -> bool:
    """If the run's worker is gone without a word, mark the run failed (or finished, when its set
    was published whole before it died) and remove what it half-wrote. True when it was reaped."""
    reason: list[str] = []
    # Look without the hold first: every tab's poll calls this, and a hold on a live run's folder, even
    # for a moment, could refuse its worker the hold it takes as it starts.
    looked = read_state(folder)
    if looked is None or looked["status"] != "running" or _death(folder, looked) is None:
        return False

    def change(state):
        if state["status"] != "running":
            return False
        why = _death(folder, state)
        if why is None:
            return False
        reason.append(why)
        if _set_complete(folder, _config(state)):
            state.update(status="finished", message=f"saved as {RUN_PREFIX}{folder.name}")
        else:
            _discard_partial(folder, _config(state))
            failed = unsaved(why)
            state.update(status="failed", message=str(failed), error=record(failed))
        state["finished"] = time.time()
        if state.get("worker"):
            state["worker"]["exit"] = str(why)

    try:
        with hold(folder):  # its files are deleted: never while a live writer (a new run, an import) holds it
            _update(folder, change)
    except FolderBusy:
        return False
    if reason:
        _index_changed(folder.parent, folder.name)
    return bool(reason)


def phase_words(phase: dict) -> Phrase:
    """The phase in a few words (English, keyed for the app), for why a run failed."""
    name, kind = phase.get("name", ""), str(phase.get("kind", "")).upper()
    if name == "training":
        epoch, epochs = phase.get("epoch", 0), phase.get("epochs", "?")
        return Phrase(
            f"training the {kind} (epoch {epoch} of {epochs})",
            "run_while_training",
            kind=kind,
            epoch=epoch,
            epochs=epochs,
        )
    if name == "measuring":
        if phase.get("what"):  # one of the measurements runs.py names (train_page.RUN_WHAT_KEYS)
            what = str(phase["what"])
            what = Phrase(what, "run_what_" + what.lower().replace(" ", "_"))
            return Phrase(f"measuring the {kind} ({what})", "run_while_measuring_what", kind=kind, what=what)
        return Phrase(f"measuring the {kind}", "run_while_measuring", kind=kind)
    if name in ("loading", "saving"):
        return Phrase({"loading": "loading the data", "saving": "saving"}[name], f"run_while_{name}")
    return Phrase("starting", "run_while_starting")


def unsaved(why: LatentExplorerError) -> TrainingError:
    """A run's failure, said with what it means for the run: nothing of it was kept."""
    return TrainingError(f"{why}; nothing was saved", key="err_run_unsaved", error=why)


def _set_complete(folder: Path, config: RunConfig) -> bool:
    kinds = _kinds(config)
    return all((folder / f"{k}{s}").is_file() for k in kinds for s in (".json", ".safetensors"))


def _discard_partial(folder: Path, config: RunConfig) -> None:
    """A run that did not finish keeps its state and progress, never a part of a set."""
    shutil.rmtree(folder / SET_STAGING, ignore_errors=True)
    for staging in folder.glob(".*.staging"):
        shutil.rmtree(staging, ignore_errors=True)
    for kind in _kinds(config):
        for suffix in (".json", ".safetensors"):
            (folder / f"{kind}{suffix}").unlink(missing_ok=True)


# --- reading runs ------------------------------------------------------------------------------------


def _history(folder: Path, kinds: tuple[str, ...]) -> dict[str, list[dict]]:
    history: dict[str, list[dict]] = {kind: [] for kind in kinds}
    try:
        with open(folder / PROGRESS, "rb") as f:
            lines = f.read(MAX_PROGRESS_BYTES).decode(errors="replace").splitlines()
    except OSError:
        return history
    for line in lines:
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):  # a line being appended right now
            continue
        if isinstance(row, dict) and row.get("kind") in history and len(history[row["kind"]]) < MAX_EPOCHS:
            kind = row.pop("kind")
            history[kind].append({k: v for k, v in row.items() if isinstance(v, (int, float)) and k in ROW_KEYS})
    return history


def _snapshots(folder: Path, kinds: tuple[str, ...]):
    none = {}, ("none", None, None)
    try:
        if (folder / SNAPSHOTS).stat().st_size > MAX_SNAPSHOT_BYTES:
            return none
        with np.load(folder / SNAPSHOTS, allow_pickle=False) as z:
            snaps = {k: (int(z[f"{k}_epoch"]), z[f"{k}_codes"].astype(np.float32)) for k in kinds if f"{k}_codes" in z}
            colour_kind = str(z["colour_kind"])
            values = z["colour_values"].astype(np.float64) if colour_kind in ("label", "factor") else None
            names = [str(n)[:40] for n in z["colour_names"][:1000]] if z["colour_names"].size else None
    except (OSError, ValueError, KeyError, TypeError):
        return none
    rows = {c.shape[0] for _, c in snaps.values() if c.ndim == 2}
    if len(rows) > 1 or any(c.ndim != 2 or c.shape[0] > SNAPSHOT_POINTS for _, c in snaps.values()):
        return none  # not what a worker writes
    if values is not None and (values.ndim != 1 or values.shape[0] not in rows):
        values, colour_kind = None, "none"
    return snaps, (colour_kind if values is not None else "none", values, names)


def job_from_state(folder: Path, state: dict, details: bool = True) -> Job | None:
    """The Job a job.json describes; details: its history and snapshots too (the list needs neither)."""
    from .store import job_summary

    try:
        config = _config(state)
        config.validate()
    except (LatentExplorerError, KeyError, TypeError, ValueError):
        return None
    kinds = _kinds(config)
    summary = job_summary(state)
    job = Job(
        state["run_id"],
        config,
        folder,
        status=summary["status"],
        message=summary["message"],
        phase=summary["phase"],
        created=summary["created"],
        started=summary["started"],
        finished=summary["finished"],
        cancelling=state["status"] == "running" and (folder / CANCEL).exists(),
    )
    job.error = from_record(state.get("error"))
    if details:
        job.history = _history(folder, kinds)
        job.snapshots, job.snapshot_colour = _snapshots(folder, kinds)
    return job


def _saved_job(folder: Path, details: bool = True) -> Job | None:
    """A saved set without job.json (imported, or saved before workers) as a finished run."""
    from .checkpoint import _config_of, read_sidecar
    from .store import set_kind_of

    try:
        kinds = SET_KINDS[set_kind_of(folder)]
        sidecars = {kind: read_sidecar(folder / kind) for kind in kinds}
        lead = sidecars[kinds[-1]]  # the VAE of a pair, the regression of a conditional set: same run config
        config = _config_of(lead, folder.name)
        stamp = max((folder / f"{k}.json").stat().st_mtime for k in kinds)
    except (LatentExplorerError, OSError, KeyError):  # changed since it was listed
        return None
    seconds = sum(float(s.get("metrics", {}).get("train_seconds", 0.0)) for s in sidecars.values())
    history = {kind: list(s.get("history") or []) for kind, s in sidecars.items()}
    last = kinds[-1]
    return Job(
        folder.name,
        config,
        folder,
        status="finished",
        message=f"saved as {RUN_PREFIX}{folder.name}",
        phase={"name": "saved", "kind": last, "epoch": len(history[last])},
        history=history if details else {},
        created=stamp - seconds,
        started=stamp - seconds,
        finished=stamp,
        saved=True,
    )


def get_run(run_id: str, runs_dir: str | Path | None = None) -> Job | None:
    """A run by id, as its folder says now (dead workers found on the way); None if there is none."""
    folder = _folder(run_id, runs_dir)
    if folder is None:
        return None
    state = read_state(folder)
    if state is None:
        return _saved_job(folder)
    if state["status"] == "running" and reap(folder):
        promote(folder.parent)
        state = read_state(folder) or state
    job = job_from_state(folder, state)
    if job is not None and job.status == "queued":
        queued = _active_states(folder.parent)["queued"]
        job.place = next((i + 1 for i, s in enumerate(queued) if s["run_id"] == run_id), 0)
    return job


def _summary(runs_dir: Path, name: str, entry: dict) -> Job | None:
    """A run of the index as a Job without config, history or snapshots: what the list shows."""
    job = entry.get("job")
    if not job:
        return None
    return Job(
        name,
        None,
        runs_dir / name,
        status=job["status"],
        message=job.get("message") or "",
        phase=job.get("phase") or {},
        created=job.get("created") or 0.0,
        started=job.get("started"),
        finished=job.get("finished"),
        epochs=int(job.get("epochs") or 0),
        cancelling=job["status"] == "running" and (runs_dir / name / CANCEL).exists(),
        saved=entry.get("saved", False),
        error=from_record(job.get("error")),
    )


def list_runs(runs_dir: str | Path | None = None) -> list[Job]:
    """Every run under runs/, newest first: active ones, then ended ones by when they ended. Read
    from the index (training.store.run_index): summaries only, no history or snapshots; dead
    workers are found and queued runs promoted on the way. The ended runs' summaries are kept per
    index generation, so a look costs the same with 3 or 3,000 of them."""
    from .store import run_index

    runs_dir = Path(runs_dir or default_runs_dir())
    index = run_index(runs_dir)
    if index.live:
        reaped = [reap(runs_dir / n) for n in index.live if index[n]["job"]["status"] == "running"]
        if promote(runs_dir) or any(reaped):
            index = run_index(runs_dir)
    memo = _ENDED.get(str(runs_dir))
    if memo is None or memo[0] != index.generation:
        ended = [
            job for name, entry in index.items() if not entry.get("live") and (job := _summary(runs_dir, name, entry))
        ]
        memo = _ENDED[str(runs_dir)] = (index.generation, sorted(ended, key=_newest, reverse=True))
    live = [job for name in index.live if (job := _summary(runs_dir, name, index[name]))]
    queued = sorted((j for j in live if j.status == "queued"), key=lambda j: j.created)
    for place, job in enumerate(queued, 1):
        job.place = place
    return sorted(live, key=_newest, reverse=True) + memo[1]


_ENDED: dict[str, tuple[int, list[Job]]] = {}  # runs dir -> (index generation, its ended runs newest first)


def _newest(job: Job) -> float:
    return job.finished or job.started or job.created


def wait(run_id: str, runs_dir: str | Path | None = None, seconds: float = 120.0) -> Job:
    """Poll the run's folder until it has ended; the run as it ended (TimeoutError after seconds)."""
    deadline = time.time() + seconds
    while True:
        job = get_run(run_id, runs_dir)
        if job is None or not job.active:
            if job is None:
                raise LookupError(f"no run {run_id!r}")
            return job
        if time.time() > deadline:
            raise TimeoutError(f"run {run_id!r} still {job.status} after {seconds:.0f} s")
        time.sleep(0.1)


def _index_changed(runs_dir: Path, name: str) -> None:
    from .store import index_changed

    index_changed(runs_dir, name)


# --- the worker ----------------------------------------------------------------------------------------


class _Stopped(TrainingCancelled):
    """The worker was told to stop by a signal (SIGTERM, SIGINT)."""


def snapshot_points(dataset) -> tuple["torch.Tensor", tuple[str, np.ndarray | None, list[str]]]:  # noqa: F821
    """The test images whose codes the snapshots show, and how to colour them (Job.snapshot_colour)."""
    images = dataset.test.x[:SNAPSHOT_POINTS]
    if dataset.test.y is not None:
        return images, ("label", dataset.test.y[:SNAPSHOT_POINTS].numpy(), dataset.class_names or [])
    if "phase" in dataset.test.factors:
        return images, ("factor", np.asarray(dataset.test.factors["phase"][:SNAPSHOT_POINTS]), [])
    return images, ("none", None, [])


def _save_snapshots(folder: Path, codes: dict[str, tuple[int, np.ndarray]], colour) -> None:
    from .checkpoint import atomic_write_bytes

    colour_kind, values, names = colour
    arrays = {f"{k}_codes": c for k, (_, c) in codes.items()} | {
        f"{k}_epoch": np.array(e) for k, (e, _) in codes.items()
    }
    arrays["colour_kind"] = np.array(colour_kind)
    arrays["colour_values"] = np.asarray(values if values is not None else [], dtype=np.float64)
    arrays["colour_names"] = np.array([str(n) for n in names or []], dtype=str)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(folder / SNAPSHOTS, buf.getvalue())


def _publish(staging: Path, folder: Path, config: RunConfig) -> None:
    """Move the saved set's files from staging into the run folder, the lead's sidecar last."""
    kinds = _kinds(config)
    lead = LEADS["conditional" if config.model.condition != "none" else "pair"]
    order = [f"{k}.safetensors" for k in kinds] + [f"{k}.json" for k in kinds if k != lead] + [f"{lead}.json"]
    for name in order:
        os.replace(staging / name, folder / name)
    shutil.rmtree(staging, ignore_errors=True)


class _Worker:
    """What a worker process keeps while it trains one run: the folder, the stop checks, snapshots."""

    def __init__(self, folder: Path, state: dict):
        self.folder, self.config = folder, _config(state)
        self.max_seconds = float(state.get("max_seconds", MAX_RUN_SECONDS))
        self.deadline = (state.get("started") or time.time()) + self.max_seconds
        self.every = int(state.get("snapshot_every", 5))
        self.timed_out = self.stop = False
        self.checked = 0.0
        self.codes: dict[str, tuple[int, np.ndarray]] = {}
        self.colour: tuple = ("none", None, [])
        self.probe = None
        self.error: dict | None = None

    def should_stop(self) -> bool:
        now = time.monotonic()
        if not self.stop and now - self.checked > 0.2:  # a stat per batch at most five times a second
            self.checked = now
            self.timed_out = time.time() > self.deadline
            self.stop = self.timed_out or (self.folder / CANCEL).exists()
        return self.stop

    def set_phase(self, **phase) -> None:
        phase["since"] = time.time()
        _update(self.folder, lambda state: state.update(phase=phase))

    def on_progress(self, p) -> None:
        import torch

        with open(self.folder / PROGRESS, "a", encoding="utf-8") as f:
            f.write(json.dumps({"kind": p.kind, **p.record}) + "\n")
        conditional = self.config.model.condition != "none"  # its codes need a condition: no snapshot
        if not conditional and (p.epoch == 1 or p.epoch % self.every == 0 or p.epoch == p.epochs):
            with torch.no_grad():
                self.codes[p.kind] = (p.epoch, p.model.encode(self.probe).mean.numpy())
            _save_snapshots(self.folder, self.codes, self.colour)
        self.set_phase(name="training", kind=p.kind, epoch=p.epoch, epochs=p.epochs)

    def on_phase(self, name: str, kind: str = "", what: str = "") -> None:
        if self.should_stop():  # a cancel or the time limit also stops a long measurement
            raise TrainingCancelled("stopped", key="err_run_stopped")
        self.set_phase(name=name, kind=kind, what=what)

    def _train(self) -> tuple[str, str]:
        from .datasets import load_dataset
        from .metrics import QUICK
        from .runs import train_and_save

        dataset = load_dataset(self.config.data)
        check_train_set(len(dataset.train))
        self.probe, self.colour = snapshot_points(dataset)
        train_and_save(
            self.config,
            self.folder / SET_STAGING,
            dataset=dataset,
            on_progress=self.on_progress,
            should_stop=self.should_stop,
            on_phase=self.on_phase,
            progress_bar=False,
            budget=QUICK,  # a save in minutes, not tens of minutes under load; the metrics record the budget
        )
        self.on_phase("saving")
        _publish(self.folder / SET_STAGING, self.folder, self.config)
        return "finished", f"saved as {RUN_PREFIX}{self.folder.name}"

    def run(self) -> tuple[str, str]:
        """(status, message) the run ended with; the set published whole when finished. A failure's reason is
        kept keyed in self.error too, so the app words it in the reader's language."""
        try:
            # one writer per folder (store.hold): the CLI cannot write into a live run; a few seconds' patience
            # for a reader's brief hold (a removal refused, a reap that found it alive)
            with hold(self.folder, patience=3.0):
                return self._train()
        except _Stopped as exc:
            return self.failed(unsaved(exc))
        except TrainingCancelled:
            if self.timed_out:
                minutes = self.max_seconds / 60
                return self.failed(
                    unsaved(
                        TrainingError(
                            f"stopped at the time limit of {minutes:g} minutes a run",
                            key="err_run_time_limit",
                            minutes=minutes,
                        )
                    )
                )
            return "cancelled", "nothing was saved"
        except LatentExplorerError as exc:
            return self.failed(exc)
        except Exception as exc:  # a worker must always report, never die silently
            kind = type(exc).__name__
            return self.failed(TrainingError(f"{kind}: {exc}", key="err_run_crashed", kind=kind, error=exc))

    def failed(self, exc: LatentExplorerError) -> tuple[str, str]:
        self.error = record(exc)
        return "failed", str(exc)


def _claim(folder: Path) -> dict | None:
    """Record this process as the run's worker; None if the run is not this process's to train
    (cancelled while starting, or another worker has it)."""
    me = {"pid": os.getpid(), "host": HOST, "ticks": _start_ticks(os.getpid()), "since": time.time()}

    def claim(state):
        worker = state.get("worker") or {}
        if state["status"] != "running" or worker.get("pid") not in (None, me["pid"]):
            return False
        state["worker"] = {**worker, **me}
        state["phase"] = {"name": "loading", "since": time.time()}

    state = _update(folder, claim)
    ok = state is not None and state["status"] == "running" and state["worker"]["pid"] == me["pid"]
    return state if ok else None


def _on_signal(signum, frame):
    raise _Stopped(f"stopped by signal {signum}", key="err_run_signal", signum=signum)


def work(folder: str | Path) -> int:
    """The worker: train, measure and save the run in folder, keeping job.json, progress.jsonl,
    snapshots.npz and the heartbeat current; then promote the next queued run. Exit code 0 when
    the run ended as it should (finished, cancelled), 1 when it failed."""
    folder = Path(folder).resolve()
    state = _claim(folder)
    if state is None:
        return 0
    worker = _Worker(folder, state)
    beating = threading.Event()

    def heartbeat():
        while not beating.wait(HEARTBEAT_SECONDS):
            (folder / HEARTBEAT).touch()

    (folder / HEARTBEAT).touch()
    threading.Thread(target=heartbeat, name="heartbeat", daemon=True).start()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_signal)
    status, message = worker.failed(TrainingError("the worker stopped before it reported", key="err_run_no_report"))
    try:
        status, message = worker.run()
    finally:
        beating.set()
        if status != "finished":
            _discard_partial(folder, worker.config)

        def end(state):
            state.update(
                status=status, message=message, finished=time.time(), error=worker.error if status == "failed" else None
            )
            state["phase"] = {**state.get("phase", {}), "since": time.time()}

        (folder / CANCEL).unlink(missing_ok=True)  # first: the folder's last change is the final job.json
        _update(folder, end)
        _index_changed(folder.parent, folder.name)
    promote(folder.parent)  # this slot is free: the next queued run starts now, page or no page
    return 0 if status in ("finished", "cancelled") else 1
