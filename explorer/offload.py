"""Long requests off the pages' script threads (issue 25, class 6).

A page asks for a result by task name and hashable arguments (`Runner.submit`); the work runs in a
worker process (`python -m explorer.offload`, nice 10, one thread) so a t-SNE fit or the gaps of a test
split never holds the session that asked, and the server's own threads keep a core for interactive
reruns. What holds for every request:

    bounded      each task has a budget of its worker's CPU time (training.limits.LONG_REQUEST_SECONDS,
                 enforced by the kernel: RLIMIT_CPU), so a loaded machine slows a fair request without
                 killing it; a wall-clock backstop (WALL_FACTOR times the budget) stops one that waits
                 on something forever. Past either the worker is killed and the request fails with the
                 limit's message
    shared       identical requests (task, arguments) from any session of the process are one ticket;
                 its result is kept (LRU) and served to the next asker without work. Across the server
                 processes of one runs folder results are kept on disk (explorer/shared_results.py) and
                 a request another process computes is waited for, not computed again
    limited      at most K computing at once on this machine: each worker takes one of K flock slots
                 (a file per slot under the temp folder, released by the kernel if the worker dies)
    abandonable  a request no page has asked about for ABANDON_SECONDS is stopped, and Cancel stops it
                 once no other session waits for it; stopping kills its worker (a new one starts later)
    visible      a ticket says queued / waiting for a slot / running, with its elapsed time and budget

LATENT_EXPLORER_LONG=inline computes in the caller's thread instead (AppTest, a single-user script).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import importlib
import logging
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from explorer import shared_results
from training.errors import LatentExplorerError
from training.limits import (
    ABANDON_SECONDS,
    LONG_REQUEST_SECONDS,
    LONG_REQUEST_WALL_FACTOR,
    MAX_LONG_REQUESTS,
    MAX_QUEUED_REQUESTS,
    MAX_SESSION_REQUESTS,
)

ROOT = Path(__file__).resolve().parents[1]
TASKS = "explorer.long_tasks"  # the module whose functions are the tasks, by name
# Finished tickets (results and failures) kept per process, per task: what the st.cache_resource entries
# these requests had before kept (a UMAP fit of 10,000 codes holds tens of MB, an image's posterior little).
RESULTS_KEPT = {
    "projection": 32,
    "inference": 64,
    "pick": 64,
    "split_gaps": 8,
    "manifold": 16,
    "hole_map": 32,
    "posterior_methods": 16,
}
RESULTS_KEPT_ELSE = 16
IDLE_SECONDS = 300.0  # a worker with nothing to do this long exits (each holds torch: ~0.3 GB)


class RequestStopped(LatentExplorerError):
    """A long request was stopped: over its time budget, its worker died, or nobody waits any more."""


class RequestRefused(LatentExplorerError):
    """A new long request refused before it was queued: its tab or this server has too many under way."""


def max_requests() -> int:
    try:
        return max(1, int(os.environ.get("LATENT_EXPLORER_MAX_REQUESTS", MAX_LONG_REQUESTS)))
    except ValueError:
        return MAX_LONG_REQUESTS


def inline() -> bool:
    return os.environ.get("LATENT_EXPLORER_LONG", "process") == "inline"


@dataclass(eq=False)
class Ticket:
    """One request and what became of it; shared by every session that asked for the same thing."""

    task: str
    args: tuple
    seconds: float  # the budget, in CPU seconds of its worker
    state: str = "queued"  # queued, starting (its worker), elsewhere (another process computes it), waiting
    # (for a slot), running, done, failed, cancelled
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    ended: float | None = None
    cpu: float = 0.0  # CPU seconds its worker has spent on it (read while it runs)
    result: Any = None
    error: BaseException | None = None
    waiters: dict[str, float] = field(default_factory=dict)  # who asked -> when they last asked
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def key(self) -> tuple:
        return (self.task, self.args)

    @property
    def done(self) -> bool:
        return self.finished.is_set()

    def elapsed(self) -> float:
        """Seconds computing (0 while queued or waiting for a slot)."""
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started

    def used(self) -> float:
        """The part of its budget used: CPU time, or the wall-clock backstop's share when that is larger."""
        return max(self.cpu / self.seconds, self.elapsed() / (self.seconds * LONG_REQUEST_WALL_FACTOR))

    def seen(self, who: str) -> None:
        self.waiters[who] = time.monotonic()

    def value(self) -> Any:
        """The result, or the task's own exception raised again here."""
        if self.error is not None:
            raise self.error
        return self.result

    def _finish(self, state: str, result: Any = None, error: BaseException | None = None) -> None:
        self.state, self.result, self.error = state, result, error
        self.ended = time.monotonic()
        self.finished.set()


def run_task(task: str, args: tuple, tasks: str = TASKS) -> Any:
    return getattr(importlib.import_module(tasks), task)(*args)


def slot_dir() -> Path:
    """The slots of this machine's servers sharing one runs folder (and so one budget of long requests)."""
    from training.store import runs_dir

    tag = hashlib.sha256(str(runs_dir().resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"latent-explorer-{os.getuid()}-{tag}"


@contextlib.contextmanager
def slot(folder: Path, k: int, on_wait=None):
    """Hold one of k slots (an flock on folder/slot-i.lock) for the block; wait for one when all are held."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    told = False
    while True:
        for i in range(k):
            fd = os.open(folder / f"slot-{i}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                yield i
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            return
        if not told and on_wait is not None:
            on_wait()
            told = True
        time.sleep(0.2)


def _portable(exc: BaseException) -> BaseException:
    """The exception as it can cross the pipe: itself when it pickles, else its message."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return LatentExplorerError(f"{type(exc).__name__}: {exc}")


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system, every thread) of a process: this one, or another's from /proc (Linux);
    0.0 when it cannot be read."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()  # after the command name, which may hold spaces
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    except (OSError, ValueError, IndexError):
        return 0.0


def cpu_budget(seconds: float) -> None:
    """Let this process spend `seconds` more CPU time (RLIMIT_CPU, whole seconds): past it the kernel
    ends it with SIGXCPU, which the server reports as the request's time limit."""
    used = cpu_seconds()
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = resource.RLIM_INFINITY if seconds == float("inf") else int(used + seconds) + 1
    if hard != resource.RLIM_INFINITY:
        soft = hard if soft == resource.RLIM_INFINITY else min(soft, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def worker_main(fd: int, folder: str, k: int, tasks: str) -> None:
    """A worker: nice 10, one thread, killed with its server; one task at a time. Each takes its request's
    lock in the shared results (another process computing it: wait, then read its result), then a slot,
    then computes within its CPU budget and stores what it computed for every process."""
    with contextlib.suppress(OSError, AttributeError):  # Linux: die with the parent, never run on orphaned
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    with contextlib.suppress(OSError):
        os.nice(10)
    import torch

    torch.set_num_threads(1)
    conn = Connection(fd)
    while True:
        try:
            task, args, seconds = conn.recv()
        except (EOFError, OSError):
            return
        name = shared_results.key(task, args)
        with shared_results.computing(name, on_wait=lambda: conn.send(("elsewhere", None))):
            found = shared_results.load(name)
            if found is not shared_results.MISS:  # computed by another process (or before this one started)
                conn.send(("done", found))
                continue
            with slot(Path(folder), k, on_wait=lambda: conn.send(("waiting", None))):
                conn.send(("running", cpu_seconds()))
                cpu_budget(seconds)
                try:
                    result = run_task(task, args, tasks)
                except BaseException as exc:  # the page shows it; the worker goes on with the next task
                    conn.send(("failed", _portable(exc)))
                    continue
                finally:
                    cpu_budget(float("inf"))  # between requests (reading a shared result) no limit runs
                shared_results.store(name, result)
                conn.send(("done", result))


def over_budget(seconds: float) -> RequestStopped:
    return RequestStopped(
        f"stopped after {seconds:.0f} s of CPU time, the limit of this request; nothing was kept",
        key="err_long_over_budget",
        seconds=seconds,
    )


class Worker:
    """One worker process and the pipe to it."""

    def __init__(self, folder: Path, k: int, tasks: str) -> None:
        mine, theirs = socket.socketpair()
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "explorer.offload", str(theirs.fileno()), str(folder), str(k), tasks],
            pass_fds=(theirs.fileno(),),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.conn = Connection(mine.detach())
        self.ticket: Ticket | None = None
        self.idle_since = time.monotonic()
        self.cpu_start = 0.0  # the worker's CPU time when its ticket started running

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self.conn.close()


class _Wake:
    """threading.Event's set/clear with a fileno, so the dispatcher waits on its busy workers' pipes and on
    a new request at once: with an Event it looked at a request only when a worker spoke or after 0.25 s,
    and the second of a page's requests asked together (the Inference page asks for up to 5) often sat
    that long beside an idle worker."""

    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self._w.setblocking(False)

    def fileno(self) -> int:
        return self._r.fileno()

    def set(self) -> None:
        with contextlib.suppress(OSError):  # BlockingIOError: already full of wake-ups
            self._w.send(b"w")

    def clear(self) -> None:
        with contextlib.suppress(OSError):  # BlockingIOError: drained
            while self._r.recv(4096):
                pass


class Runner:
    """The long requests of one server process: queue, workers, results; one dispatcher thread."""

    def __init__(
        self,
        k: int | None = None,
        run_inline: bool | None = None,
        tasks: str = TASKS,
        budgets: dict[str, float] = LONG_REQUEST_SECONDS,
    ) -> None:
        self.k = k or max_requests()
        self.tasks, self.budgets = tasks, budgets  # the task functions' module; seconds per task name
        self.inline = inline() if run_inline is None else run_inline
        self.folder = slot_dir()
        self._lock = threading.Lock()
        self._live: dict[tuple, Ticket] = {}  # queued or running
        self._kept: collections.OrderedDict[tuple, Ticket] = collections.OrderedDict()
        self._queue: collections.deque[Ticket] = collections.deque()
        self._workers: list[Worker] = []
        self._wake = _Wake()
        self._thread: threading.Thread | None = None
        self.computed = 0  # tasks this runner started (the tests count shared requests by it)

    # --- what pages call --------------------------------------------------------------------------
    def submit(self, task: str, args: tuple, who: str = "") -> Ticket:
        """The ticket for (task, args): a finished one kept from before, the one already under way, or a new one."""
        if task not in self.budgets:
            raise LatentExplorerError(f"unknown long request {task!r}")
        key = (task, tuple(args))
        new = False
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
            under_way = key in self._live
        if not under_way and not self.inline:  # another server process may have computed it: no worker needed
            found = shared_results.load(shared_results.key(task, key[1]))
            if found is not shared_results.MISS:
                ticket = Ticket(task, key[1], self.budgets[task])
                ticket._finish("done", found)
                with self._lock:
                    self._keep(ticket)
                return ticket
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
            ticket = self._live.get(key)
            if ticket is None:
                self._admit(who)
                new = True
                ticket = Ticket(task, tuple(args), self.budgets[task])
                self._live[key] = ticket
                self.computed += 1
                if not self.inline:
                    self._queue.append(ticket)
            ticket.seen(who)
        if self.inline:  # no worker: the asker's thread computes (one session, or a test); others wait for it
            if new:
                self._compute_here(ticket)
            ticket.finished.wait()
            return ticket
        self._start()
        self._wake.set()
        return ticket

    def _admit(self, who: str) -> None:
        """Under the lock: refuse a new request when its tab already has MAX_SESSION_REQUESTS under way
        (asked for lately: a tab hammering new settings) or the queue is full."""
        now = time.monotonic()
        mine = sum(1 for t in self._live.values() if now - t.waiters.get(who, -1e9) < ABANDON_SECONDS)
        if who and mine >= MAX_SESSION_REQUESTS:
            raise RequestRefused(
                f"This tab has {MAX_SESSION_REQUESTS} long requests under way, the most one tab may have; wait for "
                "one to finish, or cancel one.",
                key="err_long_too_many",
                n=MAX_SESSION_REQUESTS,
            )
        if len(self._queue) >= MAX_QUEUED_REQUESTS:
            raise RequestRefused(
                f"This server has {MAX_QUEUED_REQUESTS} long requests queued, the most it takes; try again in a "
                "minute.",
                key="err_long_queue_full",
                n=MAX_QUEUED_REQUESTS,
            )

    def position(self, ticket: Ticket) -> int:
        """1 for the next to start, 0 once it has a worker."""
        with self._lock:
            return next((i + 1 for i, t in enumerate(self._queue) if t is ticket), 0)

    def cancel(self, ticket: Ticket, who: str) -> None:
        """who no longer waits; the work stops when nobody else does."""
        with self._lock:
            ticket.waiters.pop(who, None)
            if not ticket.waiters and not ticket.done:
                self._stop(ticket, "cancelled", None)
        self._wake.set()

    def release(self, task: str, args: tuple, who: str) -> None:
        """who has moved on from (task, args) (its page asks for others in their place): it no longer counts
        against who's tab, and if nobody else waits for it a queued one is dropped (nothing computed yet); a
        running one finishes and is kept, so asking for it again costs nothing."""
        with self._lock:
            ticket = self._live.get((task, tuple(args)))
            if ticket is None:
                return
            ticket.waiters.pop(who, None)
            if not ticket.waiters and ticket.state == "queued":
                self._stop(ticket, "cancelled", None)
        self._wake.set()

    def forget(self, ticket: Ticket) -> None:
        """Drop a finished ticket (a failure to try again)."""
        with self._lock:
            if self._kept.get(ticket.key) is ticket:
                del self._kept[ticket.key]

    def shutdown(self) -> None:
        with self._lock:
            for ticket in list(self._live.values()):
                self._stop(ticket, "cancelled", None)
            workers, self._workers = self._workers, []
        for w in workers:
            w.stop()

    # --- the dispatcher ----------------------------------------------------------------------------
    def _compute_here(self, ticket: Ticket) -> None:
        ticket.state, ticket.started = "running", time.monotonic()
        try:
            result = run_task(ticket.task, ticket.args, self.tasks)
        except Exception as exc:
            self._settle(ticket, "failed", None, exc)
        else:
            self._settle(ticket, "done", result, None)

    def _settle(self, ticket: Ticket, state: str, result: Any, error: BaseException | None) -> None:
        with self._lock:
            if ticket.done:
                return
            ticket._finish(state, result, error)
            if self._live.get(ticket.key) is ticket:
                del self._live[ticket.key]
            if state in ("done", "failed"):
                self._keep(ticket)

    def _stop(self, ticket: Ticket, state: str, error: BaseException | None) -> None:
        """Under the lock: take the ticket out of the queue, or kill the worker computing it."""
        if ticket in self._queue:
            self._queue.remove(ticket)
        for w in [w for w in self._workers if w.ticket is ticket]:
            self._workers.remove(w)
            w.ticket = None
            threading.Thread(target=w.stop, daemon=True).start()  # never wait for a kill under the lock
        ticket._finish(state, None, error)
        self._live.pop(ticket.key, None)
        if state == "failed":
            self._keep(ticket)

    def _keep(self, ticket: Ticket) -> None:
        """Under the lock: keep a finished ticket, dropping its task's least recently asked beyond the limit."""
        self._kept[ticket.key] = ticket
        same = [key for key in self._kept if key[0] == ticket.task]
        for key in same[: max(0, len(same) - RESULTS_KEPT.get(ticket.task, RESULTS_KEPT_ELSE))]:
            del self._kept[key]

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._dispatch, name="long-requests", daemon=True)
                self._thread.start()

    def _dispatch(self) -> None:
        while True:
            try:
                with self._lock:
                    self._police(time.monotonic())
                    self._assign()
                    conns = {w.conn: w for w in self._workers if w.ticket is not None}
                # a worker's message or a new request ends the wait at once; else a turn every 0.25 s (police)
                for conn in wait([*conns, self._wake], timeout=0.25):
                    if conn is self._wake:
                        self._wake.clear()
                    else:
                        self._receive(conns[conn])
            except Exception:  # never let one bad turn end the dispatcher: every page would wait forever
                logging.getLogger(__name__).exception("long requests: dispatcher turn failed")
                time.sleep(1.0)

    def _police(self, now: float) -> None:
        """Under the lock: stop what nobody waits for, what is over its budget, and idle workers."""
        for ticket in list(self._live.values()):
            if ticket.waiters and now - max(ticket.waiters.values()) > ABANDON_SECONDS:
                self._stop(ticket, "cancelled", None)
            elif ticket.state == "running":
                worker = next((w for w in self._workers if w.ticket is ticket), None)
                if worker is not None:
                    ticket.cpu = max(ticket.cpu, cpu_seconds(worker.proc.pid) - worker.cpu_start)
                if ticket.cpu > ticket.seconds + 2.0:  # RLIMIT_CPU did not act (another OS): stopped here
                    self._stop(ticket, "failed", over_budget(ticket.seconds))
                elif ticket.elapsed() > ticket.seconds * LONG_REQUEST_WALL_FACTOR:
                    wall, cpu = round(ticket.elapsed()), round(ticket.cpu)
                    error = RequestStopped(
                        f"stopped after {wall} s of waiting for it ({cpu} s of CPU time used of its "
                        f"{ticket.seconds:.0f}); nothing was kept",
                        key="err_long_over_wall",
                        seconds=wall,
                        cpu=cpu,
                        limit=ticket.seconds,
                    )
                    self._stop(ticket, "failed", error)
        for w in list(self._workers):
            if w.ticket is None and (now - w.idle_since > IDLE_SECONDS or w.proc.poll() is not None):
                self._workers.remove(w)
                threading.Thread(target=w.stop, daemon=True).start()

    def _assign(self) -> None:
        while self._queue:
            idle = next((w for w in self._workers if w.ticket is None), None)
            if idle is None and len(self._workers) < self.k:
                try:
                    idle = Worker(self.folder, self.k, self.tasks)
                except OSError as exc:  # no process could start (memory, process limit): said, not hung
                    reason = exc.strerror or type(exc).__name__
                    error = RequestStopped(
                        f"no worker process could start ({reason}); nothing was computed",
                        key="err_long_no_worker",
                        reason=reason,
                    )
                    self._stop(self._queue[0], "failed", error)
                    continue
                self._workers.append(idle)
            if idle is None:
                return
            ticket = self._queue.popleft()
            try:
                idle.conn.send((ticket.task, ticket.args, ticket.seconds))
            except OSError:  # a worker that died idle: drop it, the ticket goes back to the front
                self._workers.remove(idle)
                self._queue.appendleft(ticket)
                continue
            idle.ticket = ticket
            ticket.state = "starting"  # until the worker says it waits for a slot or runs

    def _receive(self, worker: Worker) -> None:
        try:
            what, payload = worker.conn.recv()
        except (EOFError, OSError):  # it died (killed, out of memory): the ticket fails with the reason
            code = worker.proc.wait(5) if worker.proc.poll() is None else worker.proc.returncode
            with self._lock:
                ticket = worker.ticket
                if worker in self._workers:
                    self._workers.remove(worker)
                if ticket is not None and not ticket.done and code == -signal.SIGXCPU:  # its CPU budget, spent
                    self._stop(ticket, "failed", over_budget(ticket.seconds))
                elif ticket is not None and not ticket.done:
                    error = RequestStopped(
                        f"its worker process ended (exit code {code}); nothing was kept",
                        key="err_long_worker_died",
                        code=code,
                    )
                    self._stop(ticket, "failed", error)
            return
        ticket = worker.ticket
        if ticket is None:
            return
        if what == "running":
            with self._lock:
                ticket.state, ticket.started, worker.cpu_start = "running", time.monotonic(), float(payload)
            return
        if what in ("waiting", "elsewhere"):
            with self._lock:
                ticket.state = what
            return
        worker.ticket, worker.idle_since = None, time.monotonic()
        self._settle(ticket, "done" if what == "done" else "failed", payload if what == "done" else None,
                     payload if what == "failed" else None)  # fmt: skip
        self._wake.set()


_runner: Runner | None = None
_runner_lock = threading.Lock()


def runner() -> Runner:
    """This process's runner (one for every session)."""
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = Runner()
        return _runner


if __name__ == "__main__":
    worker_main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4])
