"""Runs belong to the server (issue 14): any tab lists, watches and cancels them by ?run=<id>."""

import re
import time

import pytest

from tests.helpers import open_app, tiny_run, wait
from training import jobs, limits, store
from training.errors import LatentExplorerError

TRAIN = "explorer/ui/pages/train.py"


@pytest.fixture
def runs(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(runs))
    monkeypatch.setenv("LATENT_EXPLORER_UPLOADS", str(tmp_path / "uploads"))
    return runs


@pytest.fixture
def slow(monkeypatch):
    """Each epoch takes at least 0.1 s, so a 200-epoch run is still training while a test looks at it."""
    real = jobs._progress_recorder

    def recorder(job, probe, every):
        record = real(job, probe, every)

        def on_progress(p):
            record(p)
            time.sleep(0.1)

        return on_progress

    monkeypatch.setattr(jobs, "_progress_recorder", recorder)


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


def test_a_reloaded_tab_shows_the_run_live_and_cancels_it(runs, slow):
    at = open_app(TRAIN, dataset="digits", pair="digits-2d")
    at.selectbox(key="train_dataset").set_value("moons")
    at.number_input(key="train_n").set_value(128)
    at.number_input(key="train_epochs").set_value(limits.MAX_EPOCHS)
    at.text_input(key="train_name").set_value("my run")  # made safe by the store's naming
    at.button(key="train_submit").click().run()
    assert not at.error, [e.value for e in at.error]
    run_id = at.query_params["run"]
    assert run_id == store.safe_name("my run") == "my-run"
    job = jobs.get_job(run_id)
    until(lambda: len(job.history["ae"]) >= 2)
    del at  # the tab is gone; the run is not

    tab = open_app(TRAIN, dataset="digits", pair="digits-2d", run=run_id)  # a reload or a pasted link
    assert re.search(r"running: AE epoch \d+ of 200", status_line(tab, run_id))
    curves = tab.get("plotly_chart")
    assert curves and job.active
    tab.button(key="train_cancel").click().run()
    wait(job)
    assert job.status == "cancelled" and not (runs / run_id).exists()
    tab.run()
    line = status_line(tab, run_id)
    assert "cancelled" in line and "nothing was saved" in line and line.count("cancelled") == 1


def test_the_limit_names_the_running_runs_and_the_list_cancels_them(runs, slow, monkeypatch):
    monkeypatch.setattr(jobs, "MAX_CONCURRENT_RUNS", 1)
    first = jobs.start_job(tiny_run(epochs=200), runs, name="first")
    at = open_app(TRAIN, dataset="digits", pair="digits-2d")
    assert at.number_input(key="train_epochs").max == limits.MAX_EPOCHS  # capped in the widget itself
    at.number_input(key="train_epochs").set_value(1)
    at.button(key="train_submit").click().run()
    assert [e.value.replace("\\", "") for e in at.error] == [
        "Cannot train: 1 run is training already (first); this server allows 1 at once. "
        "Watch or cancel one from its page, or wait for one to finish."
    ]
    links = [(p.value, p.proto.query_string) for p in at.page_link]
    assert any(label.startswith("first: running") and query == "run=first" for label, query in links), links
    assert ("first", "run=first") in links  # the run list
    at.button(key="cancel_first").click().run()
    wait(first)
    assert first.status == "cancelled"


def test_saved_runs_are_listed_after_a_restart_newest_first(runs, monkeypatch):
    older = wait(jobs.start_job(tiny_run(), runs, name="older"))
    newer = wait(jobs.start_job(tiny_run(seed=3), runs))
    monkeypatch.setattr(jobs, "_JOBS", {})  # a restarted server remembers nothing but runs/
    listed = jobs.list_runs()
    assert [j.run_id for j in listed] == [newer.run_id, "older"]
    assert all(j.status == "finished" and j.saved and j.fraction == 1.0 for j in listed)
    assert listed[1].history == older.history and set(listed[1].history) == {"ae", "vae"}
    saved = jobs.get_run("older").config  # as fit() ran it: the data shape and the device filled in
    assert (saved.data, saved.train.epochs, saved.train.seed) == (older.config.data, 2, older.config.train.seed)
    assert jobs.get_run("../runs/older") is None and jobs.get_run("nobody") is None
    at = open_app(TRAIN, dataset="digits", pair="digits-2d", run="older")
    assert status_line(at, "older").startswith("**older**: finished")
    assert any("read back from runs/" in c.value for c in at.caption)
    assert [p.value for p in at.page_link][:2] == [newer.run_id, "older"]


@pytest.mark.slow  # its page-sized moons run measures exact log p(x) at save: about a minute
def test_a_run_whose_tab_closed_finishes_and_saves(runs):
    at = open_app(TRAIN, dataset="digits", pair="digits-2d")
    at.selectbox(key="train_dataset").set_value("moons")
    at.number_input(key="train_n").set_value(128)
    at.number_input(key="train_epochs").set_value(2)
    at.button(key="train_submit").click().run()
    job = jobs.get_job(at.query_params["run"])
    del at
    wait(job)
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
    assert [p.name for p in runs.iterdir()] == ["uploaded-pair"]


def test_a_text_file_named_npz_gets_a_whole_sentence(runs, tmp_path):
    from training import uploads

    with pytest.raises(LatentExplorerError) as error:
        uploads.import_upload("notes.npz", b"hello world", tmp_path / "uploads")
    assert str(error.value) == "notes.npz: not a readable .npz file (BadZipFile: File is not a zip file)"
