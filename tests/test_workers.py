"""Runs are worker processes and their folders are the record (issue 23): the index of runs/,
dead workers, cancel from another process, the queue moved on by the workers themselves."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from functools import partial

import pytest

from explorer.i18n import error_words, tr
from tests.helpers import ROOT, slow_run, tiny_run
from training import checkpoint, jobs, store


@pytest.fixture
def runs(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(runs))
    return runs


def until(condition, seconds=120):
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.1)


def in_phase(run_id, runs, name):
    return lambda: (jobs.read_state(runs / run_id) or {}).get("phase", {}).get("name") == name


# --- the index ----------------------------------------------------------------------------------------


def copies(source, runs, n):
    runs.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        shutil.copytree(source, runs / f"copy-{i:03d}")


def test_a_listing_reads_only_the_folders_that_changed(runs, tiny_pair_dir, monkeypatch):
    copies(tiny_pair_dir, runs, 12)
    assert len([i for i in store.find_sets() if i.startswith("runs/")]) == 12
    reads = []
    real = checkpoint._read_sidecar
    monkeypatch.setattr(
        checkpoint, "_read_sidecar", lambda path: runs in path.parents and reads.append(path) or real(path)
    )
    checkpoint._SIDECARS.clear()  # no memo to hide a read: a fresh server process
    store._checked_info.cache_clear()
    store._MEMO.clear()
    assert len([i for i in store.find_sets() if i.startswith("runs/")]) == 12
    assert reads == []  # the index said it all
    shutil.copytree(tiny_pair_dir, runs / "new")
    shutil.rmtree(runs / "copy-003")
    (runs / "copy-005" / "vae.json").write_text("{}")  # broken by hand: its folder's mtime does not change
    os.utime(runs / "copy-005")  # ... until something is renamed in, as every atomic write does
    listed = [i for i in store.find_sets() if i.startswith("runs/")]
    assert "runs/new" in listed and "runs/copy-003" not in listed and "runs/copy-005" not in listed
    assert len(listed) == 11
    assert sorted({p.parent.name for p in reads}) == ["copy-005", "new"]


def test_a_missing_or_broken_index_is_rebuilt_from_the_folders(runs, tiny_pair_dir):
    copies(tiny_pair_dir, runs, 3)
    first = store.find_sets()
    for broken in ("not json", json.dumps({"version": 1, "entries": {"copy-000": {"stamp": "x"}}}), None):
        store._MEMO.clear()
        if broken is None:
            (runs / store.INDEX).unlink()
        else:
            (runs / store.INDEX).write_text(broken)
        assert store.find_sets() == first
    assert set(json.loads((runs / store.INDEX).read_text())["entries"]) == {"copy-000", "copy-001", "copy-002"}


def test_a_first_build_lists_the_newest_at_once_and_reads_the_rest_in_the_background(runs, tiny_pair_dir, monkeypatch):
    copies(tiny_pair_dir, runs, 5)
    for i in range(5):  # copy-004 the newest
        os.utime(runs / f"copy-{i:03d}", ns=(10**18 + i, 10**18 + i))
    monkeypatch.setattr(store, "SCAN_BATCH", 2)
    store._SEEN.clear()
    assert [i for i in store.find_sets() if i.startswith("runs/")] == ["runs/copy-003", "runs/copy-004"]
    index = store.wait_for_index()
    assert index.pending == 0 and sorted(index) == [f"copy-{i:03d}" for i in range(5)]
    assert len([i for i in store.find_sets() if i.startswith("runs/")]) == 5
    assert set(json.loads((runs / store.INDEX).read_text())["entries"]) == set(index)


def test_a_run_started_during_a_first_build_is_listed_at_once(runs, tiny_pair_dir, monkeypatch):
    """The builder reads the old folders (held here until released); a run queued and a set saved meanwhile
    are listed by the next look, not when the build ends."""
    copies(tiny_pair_dir, runs, 3)
    for i in range(3):
        os.utime(runs / f"copy-{i:03d}", ns=(10**18 + i, 10**18 + i))
    monkeypatch.setattr(store, "SCAN_BATCH", 2)
    store._SEEN.clear()
    release, real = threading.Event(), store._entry

    def held(folder, stamp):
        if threading.current_thread().name.startswith("index "):
            release.wait(60)
        return real(folder, stamp)

    monkeypatch.setattr(store, "_entry", held)
    try:
        assert store.run_index(runs).pending == 1
        (runs / "queued-now").mkdir()
        (runs / "queued-now" / store.JOB_STATE).write_text(json.dumps({"version": 1, "status": "queued"}))
        shutil.copytree(tiny_pair_dir, runs / "saved-now")
        index = store.run_index(runs)
        assert index.pending == 1 and index.live == ("queued-now",) and index["saved-now"]["sets"]
        assert "runs/saved-now" in store.find_sets() and "runs/copy-000" not in store.find_sets()
    finally:
        release.set()
    index = store.wait_for_index(runs)
    assert index.pending == 0 and set(index) == {"copy-000", "copy-001", "copy-002", "queued-now", "saved-now"}


def test_writers_at_once_lose_no_update(runs, tiny_pair_dir):
    """Eight writers (threads: flock holds between them as between processes) add folders at once."""
    copies(tiny_pair_dir, runs, 1)
    store.find_sets()

    def writer(k):
        for i in range(5):
            shutil.copytree(tiny_pair_dir, runs / f"w{k}-{i}")
            store.index_changed(runs, f"w{k}-{i}")

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = json.loads((runs / store.INDEX).read_text())["entries"]  # the file itself, before any reader
    assert set(entries) == {"copy-000"} | {f"w{k}-{i}" for k in range(8) for i in range(5)}
    assert all(e["sets"] and e["sets"][0]["dataset"] == "moons" for e in entries.values())


def test_the_beta_plane_and_imports_read_the_index_not_the_sidecars(runs, tiny_pair_dir):
    from explorer.ui.train_page import beta_curves

    copies(tiny_pair_dir, runs, 2)
    sets = store.find_sets("pair")
    vae = json.loads((tiny_pair_dir / "vae.json").read_text())
    point = sets["runs/copy-000"].point
    assert (point.beta, point.rate, point.distortion, point.active_units, point.seed) == (
        vae["model"]["beta"],
        vae["metrics"]["rate"],
        vae["metrics"]["distortion"],
        vae["metrics"]["active_units"],
        vae["train"]["seed"],
    )
    (curve,) = beta_curves(sets, "moons").values()  # the copies share a setting: one curve, one beta
    assert curve[0].runs == ["copy-000", "copy-001"] and curve[0].seeds == 2
    assert store.import_set(tiny_pair_dir, "again") == "runs/copy-000"  # the same weights: by their SHA-256


# --- workers --------------------------------------------------------------------------------------------


def test_a_killed_worker_leaves_its_run_failed_with_the_reason(runs):
    jobs.start_job(slow_run(), runs, name="doomed")
    until(in_phase("doomed", runs, "training"))
    pid = jobs.read_state(runs / "doomed")["worker"]["pid"]
    child = jobs._CHILDREN.pop(pid)  # as if another server process had started it: only /proc to go by
    os.kill(pid, signal.SIGKILL)
    child.wait(30)
    (runs / "doomed" / "ae.safetensors").write_bytes(b"half")  # what it was writing when it died
    with store.hold(runs / "doomed"):  # another writer holds the folder now: nothing of it is deleted under it
        assert not jobs.reap(runs / "doomed") and (runs / "doomed" / "ae.safetensors").exists()
    job = jobs.get_run("doomed")
    assert job.status == "failed", job
    assert f"its worker process ({pid}) ended while training the AE (epoch" in job.message
    assert "killed or crashed" in job.message and job.message.endswith("nothing was saved")
    chinese = error_words(partial(tr, "zh"), job.error)  # job.json keeps the reason keyed: the app words it
    assert chinese.startswith(f"训练进程（{pid}）在训练 AE（第 ") and "（被终止或崩溃）" in chinese, chinese
    assert chinese.endswith("；没有保存任何内容"), chinese  # the worker's last log line, if any, quoted as it is
    (listed,) = jobs.list_runs()  # the run list (the index's summary) words it the same
    assert error_words(partial(tr, "zh"), listed.error) == chinese
    assert not list((runs / "doomed").glob("*.safetensors")) and "runs/doomed" not in store.find_sets()
    assert [(j.status, j.error.key) for j in jobs.list_runs()] == [("failed", "err_run_unsaved")]  # the list too


def test_a_run_is_cancelled_from_another_process_and_the_worker_starts_the_next(runs, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_MAX_RUNS", "1")
    jobs.start_job(slow_run(), runs, name="long")
    jobs.start_job(tiny_run(), runs, name="next")
    assert jobs.read_state(runs / "next")["status"] == "queued"
    until(in_phase("long", runs, "training"))
    code = f"from training import jobs; jobs.cancel('long', {str(runs)!r})"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=120)
    # nothing in this process lists or promotes: "long"'s worker sees the cancel file, ends, starts "next"
    until(lambda: jobs.read_state(runs / "next")["status"] != "queued")
    assert jobs.read_state(runs / "long")["status"] == "cancelled"
    until(lambda: jobs.read_state(runs / "next")["status"] == "finished")
    assert store.load_set(runs / "next").kinds == ("ae", "vae")


def test_status_names_the_phase_with_the_time_since_the_start():
    from functools import partial

    from explorer.i18n import tr
    from explorer.ui.train_page import run_status

    en, zh = partial(tr, "en"), partial(tr, "zh")
    job = jobs.Job("r", tiny_run(epochs=6), ROOT, status="running", started=100.0)
    job.phase = {"name": "training", "kind": "vae", "epoch": 6, "epochs": 6}
    assert run_status(job, en, now=105.0) == "running: VAE epoch 6 of 6 · 0:05"
    job.phase = {"name": "measuring", "kind": "vae", "what": "exact NLL"}
    assert run_status(job, en, now=100.0 + 241) == "running: measuring the VAE: exact NLL · 4:01"
    assert run_status(job, zh, now=341.0) == "训练中：正在评估 VAE：精确负对数似然 · 4:01"
    job.phase = {"name": "saving"}
    assert run_status(job, en, now=3700.0) == "running: saving · 1:00:00"
    job.status, job.place = "queued", 2
    assert run_status(job, en).startswith("queued: number 2 in line")
