"""Workloads for tests/test_offload.py, run in explorer/offload.py's worker processes: their length,
failure and death are under the test's control, which the app's real tasks are not."""

import os
import time

from training.errors import LatentExplorerError


def sleep(seconds: float, tag: str = "") -> tuple[int, float, float, str]:
    """(worker pid, start, end, tag) after sleeping: the test reads who ran it and when."""
    start = time.time()
    time.sleep(seconds)
    return os.getpid(), start, time.time(), tag


def refuse(name: str) -> None:
    raise LatentExplorerError(f"{name}: refused", key="err_long_over_budget", seconds=1.0)


def die(code: int) -> None:
    os._exit(code)


def spin(seconds: float) -> float:
    """Burn CPU for `seconds` of this process's CPU time; returns the CPU time it used."""
    start = time.process_time()
    while time.process_time() - start < seconds:
        sum(range(10_000))
    return time.process_time() - start


def count(path: str, seconds: float, tag: str = "") -> tuple[int, str]:
    """Append this worker's pid to the file at `path`, then sleep: the file's lines count the computations."""
    with open(path, "a") as f:
        f.write(f"{os.getpid()}\n")
    time.sleep(seconds)
    return os.getpid(), tag
