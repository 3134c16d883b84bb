"""Runs belong to the server (issue 14): any tab lists, watches and cancels them by ?run=<id>."""

import json
import os
import re
import shutil
import time

import pytest

from tests.helpers import open_app, slow_run, tiny_run, wait
from training import jobs, limits, store
from training.errors import LatentExplorerError

TRAIN = "explorer/ui/pages/train.py"


@pytest.fixture
def runs(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(runs))
    monkeypatch.setenv("LATENT_EXPLORER_UPLOADS", str(tmp_path / "uploads"))
    return runs


def until(condition, seconds=60):
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def status_line(at, run_id):
    """The run's status as shown (Markdown escapes, added by text.plain, removed)."""
    lines = [m.value.replace("\\", "") for m in at.markdown if m.value.startswith(f"**{run_id}**")]
    assert len(lines) == 1, [m.value for m in at.markdown]
    return lines[0]


def no_set(folder):
    """A run folder that holds no part of a set: its state and progress only."""
    return not any(p.suffix == ".safetensors" or p.name in ("ae.json", "vae.json") for p in folder.iterdir())


def test_a_reloaded_tab_shows_the_run_live_and_cancels_it(runs):
    at = open_app(TRAIN, dataset="digits", pair="digits-2d")
    at.selectbox(key="train_dataset").set_value("moons")
    at.number_input(key="train_n").set_value(4000)  # about 0.2 s an epoch: still training when looked at
    at.number_input(key="train_epochs").set_value(limits.MAX_EPOCHS)
    at.text_input(key="train_name").set_value("my run")  # made safe by the store's naming
    at.button(key="train_submit").click().run()
    assert not at.error, [e.value for e in at.error]
    run_id = at.query_params["run"]
    assert run_id == store.safe_name("my run") == "my-run"
    until(lambda: len(jobs.get_run(run_id).history["ae"]) >= 2, 120)
    del at  # the tab is gone; the run is not

    tab = open_app(TRAIN, dataset="digits", pair="digits-2d", run=run_id)  # a reload or a pasted link
    assert re.search(r"running: AE epoch \d+ of 200 · \d+:\d\d", status_line(tab, run_id))
    assert tab.get("plotly_chart") and jobs.get_run(run_id).active
    tab.button(key="train_cancel").click().run()
    job = jobs.wait(run_id, runs)
    assert job.status == "cancelled" and no_set(runs / run_id)
    assert f"runs/{run_id}" not in store.find_sets()
    tab.run()
    line = status_line(tab, run_id)
    assert "cancelled" in line and "nothing was saved" in line and line.count("cancelled") == 1


def test_beyond_the_limit_a_run_queues_with_its_place_and_starts_when_one_ends(runs, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_MAX_RUNS", "1")  # the workers read it too
    assert jobs.start_job(slow_run(), runs, name="first").status == "running"
    at = open_app(TRAIN, dataset="digits", pair="digits-2d")
    assert at.number_input(key="train_epochs").max == limits.MAX_EPOCHS  # capped in the widget itself
    at.number_input(key="train_epochs").set_value(1)
    at.text_input(key="train_name").set_value("second")
    at.button(key="train_submit").click().run()
    assert not at.error, [e.value for e in at.error]  # queued, not refused
    assert status_line(at, "second").startswith("**second**: queued: number 1 in line; 1 runs train at once")
    links = [p.value for p in at.page_link]
    assert links[:2] == ["second", "first"], links  # the run list: active ones, newest first
    at.button(key="cancel_first").click().run()  # the list's Cancel
    assert jobs.wait("first", runs, 400).status == "cancelled"  # worker start-up takes a minute at load 30
    second = jobs.wait("second", runs, 400)  # started by first's worker as it ended, no page asked
    assert second.status == "finished", second.message
    assert store.load_set(runs / "second").kinds == ("ae", "vae")


def test_saved_runs_are_listed_after_a_restart_newest_first(runs, tiny_pair_dir):
    older = wait(jobs.start_job(tiny_run(), runs, name="older"))
    newer = wait(jobs.start_job(tiny_run(seed=3), runs))
    shutil.copytree(tiny_pair_dir, runs / "imported")  # a set saved without a worker: a finished run too
    os.utime(runs / "imported" / "vae.json", (0, 0))  # saved long ago
    listed = jobs.list_runs()  # a restarted server has nothing in memory: every process reads runs/
    assert [j.run_id for j in listed] == [newer.run_id, "older", "imported"]
    assert all(j.status == "finished" and j.fraction == 1.0 for j in listed)
    assert [j.saved for j in listed] == [False, False, True]
    read = jobs.get_run("older")
    assert read.history == older.history and set(read.history) == {"ae", "vae"} and len(read.history["vae"]) == 2
    assert set(read.snapshots) == {"ae", "vae"}  # snapshots live in the folder too
    saved = read.config  # as the form asked for it
    assert (saved.data, saved.train.epochs, saved.train.seed) == (older.config.data, 2, older.config.train.seed)
    assert jobs.get_run("../runs/older") is None and jobs.get_run("nobody") is None
    at = open_app(TRAIN, dataset="digits", pair="digits-2d", run="older")
    assert status_line(at, "older").startswith("**older**: finished")
    assert [p.value for p in at.page_link][:3] == [newer.run_id, "older", "imported"]
    at = open_app(TRAIN, dataset="digits", pair="digits-2d", run="imported")
    assert any("read back from runs/" in c.value for c in at.caption)


@pytest.mark.slow  # its page-sized moons run measures exact log p(x) at save: about a minute
def test_a_run_whose_tab_closed_finishes_and_saves(runs):
    at = open_app(TRAIN, dataset="digits", pair="digits-2d")
    at.selectbox(key="train_dataset").set_value("moons")
    at.number_input(key="train_n").set_value(128)
    at.number_input(key="train_epochs").set_value(2)
    at.button(key="train_submit").click().run()
    run_id = at.query_params["run"]
    del at
    job = jobs.wait(run_id, runs, 300)
    assert job.status == "finished" and store.load_set(runs / job.run_id).kinds == ("ae", "vae")


def test_run_names(runs, monkeypatch):
    monkeypatch.setattr(jobs.time, "strftime", lambda fmt, *args: "20260612-1430")
    config = tiny_run()
    assert jobs.default_name(config) == "moons-sparse-2d-20260612-1430"
    (runs / "moons-sparse-2d-20260612-1430").mkdir(parents=True)
    assert jobs.run_name(config, runs) == "moons-sparse-2d-20260612-1430-2"
    assert jobs.run_name(config, runs, " ../my run!/x ") == "my-run-x"
    (runs / "mine").mkdir()
    with pytest.raises(LatentExplorerError, match="a run named 'mine' exists already"):
        jobs.run_name(config, runs, "mine")


def test_the_same_uploaded_pair_twice_is_one_pair(runs, tiny_pair_dir):
    files = [(p.name, p.read_bytes(), "application/octet-stream") for p in sorted(tiny_pair_dir.iterdir())]
    stale = [("ae.json", b"{}", "application/json"), ("old.json", b"{}", "application/json")]
    at = open_app(TRAIN, dataset="digits", pair="digits-2d")
    at.file_uploader(key="ckpt_files").set_value(stale + files).run()  # an earlier attempt's files stay
    for _ in range(2):
        at.button(key="ckpt_load").click().run()
        assert [s.value for s in at.success] == ["Loaded as runs/uploaded-pair: choose it in the sidebar."]
    assert [p.name for p in runs.iterdir() if not p.name.startswith(".")] == ["uploaded-pair"]


def test_a_text_file_named_npz_gets_a_whole_sentence(runs, tmp_path):
    from training import uploads

    with pytest.raises(LatentExplorerError) as error:
        uploads.import_upload("notes.npz", b"hello world", tmp_path / "uploads")
    assert str(error.value) == "notes.npz: not a readable .npz file (BadZipFile: File is not a zip file)"


def test_an_ended_run_is_removed_from_the_list_after_a_second_click_and_never_while_active(
    runs, tiny_pair_dir, monkeypatch
):
    for name in ("kept", "gone"):
        shutil.copytree(tiny_pair_dir, runs / name)
    at = open_app(TRAIN, dataset="moons", pair="runs/gone")
    at.button(key="remove_gone").click().run()
    assert (runs / "gone").is_dir() and at.button(key="remove_no_gone")  # asked first: Remove for good / Keep
    at.button(key="remove_no_gone").click().run()
    assert (runs / "gone").is_dir() and at.button(key="remove_gone")
    at.button(key="remove_gone").click().run()
    at.button(key="remove_yes_gone").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [s.value for s in at.success] == ["Removed gone."]
    assert not (runs / "gone").exists() and not list(runs.glob(".gone*"))  # no staging left either
    assert "runs/gone" not in store.find_sets() and [j.run_id for j in jobs.list_runs()] == ["kept"]
    assert [p.value for p in at.page_link if p.value in ("kept", "gone")] == ["kept"]
    assert at.session_state["pair"] != "runs/gone"  # the sidebar moved off the removed pair, no warning
    assert json.loads((runs / store.INDEX).read_text())["entries"].keys() == {"kept"}

    monkeypatch.setenv("LATENT_EXPLORER_MAX_RUNS", "0")  # it stays queued
    jobs.start_job(tiny_run(), runs, name="waiting")
    with pytest.raises(LatentExplorerError) as refused:
        jobs.remove_run("waiting", runs)
    assert refused.value.key == "err_run_active" and (runs / "waiting" / "job.json").is_file()
    with store.hold(runs / "kept"), pytest.raises(LatentExplorerError) as busy:  # a writer holds it
        jobs.remove_run("kept", runs)
    assert busy.value.key == "err_run_busy" and (runs / "kept" / "vae.json").is_file()
    for bad in ("../runs/kept", "nobody", ""):
        with pytest.raises(LatentExplorerError) as unknown:
            jobs.remove_run(bad, runs)
        assert unknown.value.key == "err_run_gone"
    assert (runs / "kept").is_dir()


def test_the_run_list_is_paged_newest_first_and_searched_by_name(runs, tiny_pair_dir):
    from explorer.ui.runs import LISTED

    names = [f"copy-{i:03d}" for i in range(LISTED + 2)]
    for i, name in enumerate(names):
        shutil.copytree(tiny_pair_dir, runs / name)
        for member in ("ae.json", "vae.json"):  # saved one after another: copy-011 the newest
            os.utime(runs / name / member, (1e9 + i, 1e9 + i))
    at = open_app(TRAIN, dataset="moons", pair="runs/copy-000")
    listed = lambda: [p.value for p in at.page_link if p.value.startswith("copy-")]  # noqa: E731
    assert listed() == names[::-1][:LISTED]
    at.number_input(key="runs_page").set_value(2).run()
    assert listed() == names[::-1][LISTED:]
    at.text_input(key="runs_find").set_value("COPY-01").run()  # any case
    assert listed() == ["copy-011", "copy-010"]
    assert any(c.value == "2 of 2 runs; newest first." for c in at.caption)
