"""Server CPU per page view and per run-list poll against the number of saved runs (issue 23, item 1).

A runs folder of N synthetic runs (one real small run's files copied N times: ~cheap to make) is
measured in a fresh process per N, so no cache of one size warms another:
- store.find_sets() cold (first call) and warm, jobs.list_runs() (in-process, CPU seconds);
- a page view: AppTest of app.py on /train and /decoder, CPU of one rerun with the caches warm;
- a run-list poll: the Train page's polled fragment (its active runs) alone, with QUEUED runs queued.
CPU is process time (all threads), so other load on the machine barely moves it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.2  # CPU at the most runs within this factor of the CPU at 3
CAP_S = 150.0  # a measurement still going after this long is stopped and reported as such


def source_run(out: Path) -> Path:
    """One real run as the app trains it (moons, the quick metrics budget); 60 epochs of history make
    sidecars of about 20 kB, near the 41-46 kB issue 23 found in a class's runs folder."""
    from training.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from training.metrics import QUICK
    from training.runs import train_and_save

    config = RunConfig(
        DataConfig("moons", regime="sparse", n_train=500, n_test=50),
        ModelConfig(latent_dim=2, hidden=(64, 32)),
        TrainConfig(epochs=60),
    )
    train_and_save(config, out, progress_bar=False, budget=QUICK)
    return out


def make_runs(source: Path, runs: Path, n: int) -> None:
    """n copies of the source run under runs/: sidecars copied, weights hard-linked (a listing never
    reads them, and 1,000 copies would take 850 MB)."""
    runs.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in source.iterdir() if p.is_file())
    for i in range(n):
        folder = runs / f"moons-sparse-2d-synthetic-{i:05d}"
        folder.mkdir()
        for path in files:
            if path.suffix == ".json":
                shutil.copyfile(path, folder / path.name)
            else:
                os.link(path, folder / path.name)


def _cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


class _Stopped(Exception):
    pass


def _capped(fn, cap: float = CAP_S) -> float | None:
    """CPU seconds of fn(), or None when it was still running after cap seconds of wall time."""

    def alarm(*_):
        raise _Stopped

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, cap)
    try:
        return _cpu(fn)
    except _Stopped:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


POLL_SCRIPT = """
import streamlit as st
from explorer.ui import runs

st.navigation([st.Page(runs.__file__.rsplit("/", 3)[0] + "/" + runs.TRAIN_PAGE)], position="hidden")
runs.active_list()
"""


def poll_app(workdir: Path):
    """The Train page's polled run-list fragment (the active runs) alone, as an AppTest: what a 2 s poll
    reruns. Its script sits
    beside a link to explorer/, so the list's page links (relative to the main script) find the Train
    page it registers (a link resolves to the real file)."""
    from streamlit.testing.v1 import AppTest

    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "explorer").exists():
        (workdir / "explorer").symlink_to(ROOT / "explorer")
    (workdir / "poll.py").write_text(POLL_SCRIPT)
    return AppTest.from_file(str(workdir / "poll.py"), default_timeout=600)


QUEUED = 2  # runs waiting in the queue while measuring (LATENT_EXPLORER_MAX_RUNS=0): the list has live rows to poll


def queue_runs(runs: Path) -> None:
    """QUEUED runs that stay queued (no slot: max_runs() is 0 here), as a class's queue would be."""
    from training import jobs
    from training.config import DataConfig, ModelConfig, RunConfig, TrainConfig

    config = RunConfig(DataConfig("moons", n_train=128, n_test=8), ModelConfig(latent_dim=2), TrainConfig(epochs=2))
    for i in range(QUEUED):
        if not (runs / f"queued-{i}").exists():
            jobs.start_job(config, runs, name=f"queued-{i}")


def measure_here(n: int, views: int = 7) -> dict:
    """In this process (LATENT_EXPLORER_RUNS already set): the figures for one runs folder."""
    import torch

    torch.set_num_threads(1)
    from streamlit.testing.v1 import AppTest

    from training import jobs, store

    r: dict = {"n": n}
    wall = time.perf_counter()
    r["find_sets_cold_s"] = _capped(store.find_sets)  # no index yet: reads store.SCAN_BATCH folders itself
    r["listed_at_first"] = len(store.run_index())
    r["index_build_s"] = r["find_sets_cold_s"] + _cpu(store.wait_for_index)  # the rest, read in the background
    r["index_build_wall_s"] = time.perf_counter() - wall
    store.find_sets()  # the first look after the build reads what the builder wrote (once per change)
    r["find_sets_warm_s"] = _capped(store.find_sets)
    r["list_runs_s"] = _capped(jobs.list_runs)
    queue_runs(Path(os.environ["LATENT_EXPLORER_RUNS"]))
    skip_train = r["list_runs_s"] is None or r["list_runs_s"] > CAP_S / 4  # a view calls it twice or more
    for page, name in (("explorer/ui/pages/train.py", "train"), ("explorer/ui/pages/decoder.py", "decoder")):
        if name == "train" and skip_train:
            r[f"view_{name}_s"] = None
            continue
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        at.query_params.update({"dataset": "moons", "pair": "moons-sparse-2d"})
        at.run()
        at.switch_page(page).run()  # the first view fills the caches
        assert not at.exception, at.exception
        r[f"view_{name}_s"] = statistics.median(_cpu(at.run) for _ in range(views))
    poll = poll_app(Path(os.environ["LATENT_EXPLORER_RUNS"]).parent / f"poll-{n}")
    poll.run()
    assert not poll.exception, poll.exception  # a poll that raised measures nothing
    r["poll_s"] = None if skip_train else statistics.median(_cpu(poll.run) for _ in range(views))
    return r


def measure(source: Path, sizes: list[int], workdir: Path) -> list[dict]:
    """Each size in a fresh process with its own runs folder."""
    results = []
    for n in sizes:
        runs = workdir / f"runs-{n}"
        if not runs.exists():
            make_runs(source, runs, n)
        (runs / ".index.json").unlink(missing_ok=True)  # every size measures a first build
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LATENT_EXPLORER_RUNS": str(runs)}
        env["LATENT_EXPLORER_MAX_RUNS"] = "0"  # queue_runs' runs stay queued
        code = f"import json; from bench.runs_scale import measure_here; print(json.dumps(measure_here({n})))"
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600
        )
        if out.returncode != 0:
            raise RuntimeError(f"{n} runs: {out.stderr[-2000:]}")
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    return results


def fmt(x: float | None) -> str:
    return f"> {CAP_S:.0f} s (stopped)" if x is None else f"{x:.3f} s"


def rows(quick: bool, row, raw: dict) -> list[str]:
    sizes = [3, 30] if quick else [3, 100, 500, 1000]
    with tempfile.TemporaryDirectory(prefix="runs-scale-") as tmp:
        source = source_run(Path(tmp) / "source")
        results = measure(source, sizes, Path(tmp))
    raw["runs_scale"] = results
    first, last = results[0], results[-1]
    out = []
    for key, what in (
        ("view_train_s", "Train page view"),
        ("view_decoder_s", "Decoder page view"),
        ("poll_s", f"run-list poll (the Train page's 2 s fragment, {QUEUED} runs queued)"),
    ):
        a, b = first[key], last[key]
        ratio = None if a is None or b is None else b / a
        detail = "; ".join(f"{r['n']:,} runs: {fmt(r[key])}" for r in results)
        out.append(
            row(
                f"server CPU per {what}, {last['n']:,} saved runs vs {first['n']}",
                fmt(b),
                f"≤ {TARGET}x",
                f"{detail}: **{'—' if ratio is None else f'{ratio:.2f}x'}**",
                ratio is not None and ratio <= TARGET,
            )
        )
    detail = "; ".join(
        f"{r['n']:,}: find_sets {fmt(r['find_sets_cold_s'])} first look ({r['listed_at_first']:,} listed) / "
        f"{fmt(r['find_sets_warm_s'])} warm, list_runs {fmt(r['list_runs_s'])}"
        for r in results
    )
    out.append(row("store.find_sets / jobs.list_runs in-process (CPU)", fmt(last["list_runs_s"]), "—", detail, None))
    detail = "; ".join(
        f"{r['n']:,} runs: {fmt(r['index_build_s'])} CPU, {r['index_build_wall_s']:.1f} s wall" for r in results
    )
    out.append(
        row(
            "first index build (no runs/.index.json: every set's sidecars and load check), background",
            fmt(last["index_build_s"]),
            "—",
            f"{detail}; the first look reads the newest {last['listed_at_first']:,} folders and lists them, "
            "a thread reads the rest",
            None,
        )
    )
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sizes = [int(s) for s in sys.argv[1:]] or [3, 100, 500, 1000]
    work = Path(os.environ.get("RUNS_SCALE_DIR", tempfile.mkdtemp(prefix="runs-scale-")))
    src = work / "source"
    if not src.exists():
        source_run(src)
    print("sidecar bytes:", {p.name: p.stat().st_size for p in src.iterdir()}, flush=True)
    for r in measure(src, sizes, work):
        pass
    shutil.rmtree(work) if "RUNS_SCALE_DIR" not in os.environ else None
