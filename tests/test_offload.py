"""Long requests off the script thread (explorer/offload.py, issue 25 class 6): shared, at most K at once
across processes, stopped over their budget, cancelled or abandoned, and their failures carried back."""

import os
import time

import pytest

from explorer import offload
from explorer.offload import RequestStopped, Runner
from explorer.ui import waiting

BUDGETS = {"sleep": 30.0, "refuse": 30.0, "die": 30.0, "spin": 30.0, "count": 30.0}


@pytest.fixture
def runners(tmp_path, monkeypatch):
    """Runner(**kwargs) in process mode over the test workloads, slots private to this test; all shut down."""
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(offload, "ABANDON_SECONDS", 600.0)  # these tests wait without a page asking again
    made = []

    def make(k=1, budgets=BUDGETS):
        runner = Runner(k=k, run_inline=False, tasks="tests.offload_tasks", budgets=budgets)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.shutdown()


def finish(ticket, seconds=90):
    assert ticket.finished.wait(seconds), ticket.state
    return ticket


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"


@pytest.mark.slow  # worker processes start (each imports torch)
def test_identical_requests_share_one_computation_and_its_result_is_kept(runners):
    runner = runners()
    a = runner.submit("sleep", (0.5, "x"), who="tab-a")
    b = runner.submit("sleep", (0.5, "x"), who="tab-b")  # another session, the same request
    assert a is b and set(a.waiters) == {"tab-a", "tab-b"}
    pid, *_ = finish(a).value()
    assert pid != os.getpid()  # computed in a worker process, not in the caller's thread
    assert runner.submit("sleep", (0.5, "x"), who="tab-c").value()[0] == pid  # kept: no new work
    assert runner.computed == 1


@pytest.mark.slow  # worker processes start (each imports torch)
def test_at_most_k_compute_at_once_across_server_processes(runners):
    """Two runners (two server processes' worth) with K = 1 share the machine's one slot: their
    requests never overlap, and the one kept waiting says so."""
    first, second = runners(k=1), runners(k=1)
    for runner in (first, second):  # each with its worker started (torch imported), so b asks for the slot at once
        finish(runner.submit("sleep", (0.0, f"warm {id(runner)}"), who="s"))  # not shared: its own request
    a = first.submit("sleep", (3.0, "a"), who="s")
    assert finish_running(a)
    b = second.submit("sleep", (0.2, "b"), who="s")
    deadline = time.monotonic() + 2.5
    while b.state != "waiting" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert a.state == "running" and b.state == "waiting"
    (_, a0, a1, _), (_, b0, b1, _) = finish(a).value(), finish(b).value()
    assert a1 <= b0 or b1 <= a0  # one after the other


def finish_running(ticket, seconds=90):
    deadline = time.monotonic() + seconds
    while ticket.state != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    return ticket.state == "running"


@pytest.mark.slow  # worker processes start (each imports torch)
def test_a_request_over_its_cpu_budget_is_stopped_and_its_worker_killed(runners, monkeypatch):
    """The budget is the worker's CPU time (the kernel's RLIMIT_CPU): a request spinning past it is ended;
    one that only takes wall-clock time (a loaded machine, a sleep) is not, up to the wall-clock backstop."""
    monkeypatch.setattr(
        offload, "LONG_REQUEST_WALL_FACTOR", 20.0
    )  # the backstop far off: a nice-10 spin on a busy machine
    runner = runners(budgets={**BUDGETS, "spin": 1.0, "sleep": 1.0})
    fair = finish(runner.submit("sleep", (2.0, "fair"), who="s"))  # 2 s of wall clock, no CPU: within 1 s of CPU
    assert fair.state == "done" and fair.elapsed() >= 2.0
    ticket = runner.submit("spin", (60.0,), who="s")
    assert finish_running(ticket)
    pid = runner._workers[0].proc.pid
    finish(ticket, 30)
    assert ticket.state == "failed" and isinstance(ticket.error, RequestStopped)
    assert ticket.error.key == "err_long_over_budget" and ticket.error.values == {"seconds": 1.0}
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)
    with pytest.raises(RequestStopped):
        runner.submit("spin", (60.0,), who="s").value()  # kept as failed: not started again by a rerun
    assert runner.computed == 2


@pytest.mark.slow  # a worker process starts
def test_a_request_that_never_ends_is_stopped_by_the_wall_clock_backstop(runners, monkeypatch):
    monkeypatch.setattr(offload, "LONG_REQUEST_WALL_FACTOR", 2.0)
    runner = runners(budgets={**BUDGETS, "sleep": 1.0})
    ticket = finish(runner.submit("sleep", (60.0,), who="s"), 60)
    assert ticket.state == "failed" and ticket.error.key == "err_long_over_wall"
    assert 2.0 <= ticket.elapsed() < 6.0 and ticket.error.values["limit"] == 1.0 and ticket.error.values["cpu"] <= 1


@pytest.mark.slow  # worker processes start (each imports torch)
def test_two_server_processes_asking_the_same_request_compute_it_once(runners, tmp_path):
    """Two runners (two server processes' worth) over one runs folder ask for the same request at once: one
    worker computes it, the other waits for it (and says so), both get its result; a third process started
    later reads it from disk without starting a worker."""
    log = tmp_path / "computed.txt"
    first, second = runners(k=2), runners(k=2)
    for runner in (first, second):  # workers started (torch imported): b's asks while a's computes
        finish(runner.submit("sleep", (0.0, f"warm {id(runner)}"), who="s"))
    a = first.submit("count", (str(log), 5.0), who="s")
    assert finish_running(a)
    b = second.submit("count", (str(log), 5.0), who="s")
    deadline = time.monotonic() + 60
    while b.state != "elsewhere" and not b.done and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b.state == "elsewhere"  # its worker waits on the request's lock, holding no slot
    assert finish(a).value() == finish(b).value()
    assert len(log.read_text().split()) == 1  # computed once
    third = runners(k=2)
    c = third.submit("count", (str(log), 5.0), who="s")
    assert c.state == "done" and c.value() == a.value() and not third._workers
    assert len(log.read_text().split()) == 1


@pytest.mark.slow  # worker processes start (each imports torch)
def test_cancel_stops_the_work_only_when_nobody_else_waits(runners):
    runner = runners()
    ticket = runner.submit("sleep", (60.0,), who="a")
    runner.submit("sleep", (60.0,), who="b")
    assert finish_running(ticket)
    runner.cancel(ticket, "a")
    time.sleep(0.5)
    assert ticket.state == "running"  # b still waits for it
    pid = runner._workers[0].proc.pid
    runner.cancel(ticket, "b")
    assert ticket.state == "cancelled" and ticket.done
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)
    again = runner.submit("sleep", (0.1,), who="a")  # the runner goes on with a new worker
    assert finish(again).value()[0] != pid


@pytest.mark.slow  # worker processes start (each imports torch)
def test_a_request_nobody_asks_about_is_abandoned(runners, monkeypatch):
    monkeypatch.setattr(offload, "ABANDON_SECONDS", 1.0)
    runner = runners()
    kept_alive = runner.submit("sleep", (3.0, "watched"), who="a")
    left = runner.submit("sleep", (60.0, "left"), who="b")  # queued behind it (K = 1); its tab closed
    deadline = time.monotonic() + 90
    while not kept_alive.done and time.monotonic() < deadline:
        runner.submit("sleep", (3.0, "watched"), who="a")  # the page's progress fragment asking
        time.sleep(0.3)
    assert kept_alive.state == "done"
    assert left.state == "cancelled"


@pytest.mark.slow  # worker processes start (each imports torch)
def test_failures_come_back_as_the_page_would_have_raised_them(runners):
    from training.errors import LatentExplorerError

    runner = runners()
    refused = finish(runner.submit("refuse", ("x.npz",), who="s"))
    with pytest.raises(LatentExplorerError, match="x.npz: refused") as caught:
        refused.value()
    assert caught.value.key == "err_long_over_budget" and caught.value.values == {"seconds": 1.0}
    died = finish(runner.submit("die", (3,), who="s"))
    assert died.state == "failed" and died.error.key == "err_long_worker_died" and died.error.values == {"code": 3}
    assert finish(runner.submit("sleep", (0.1,), who="s")).state == "done"  # a fresh worker took over


def test_unknown_tasks_are_refused(runners):
    from training.errors import LatentExplorerError

    with pytest.raises(LatentExplorerError, match="unknown long request"):
        runners().submit("os.system", ("true",))


@pytest.fixture
def process_mode(monkeypatch, tmp_path):
    """The app's own runner in process mode (as `make run` has it), fresh for the test, shut down after;
    its results kept on disk for this test alone (the session's runs folder is shared by other tests)."""
    monkeypatch.setenv("LATENT_EXPLORER_LONG", "process")
    monkeypatch.setenv("LATENT_EXPLORER_RESULTS", str(tmp_path / "results"))
    monkeypatch.setattr(offload, "_runner", None)
    monkeypatch.setattr(offload, "ABANDON_SECONDS", 600.0)  # no progress fragment asks again here
    # these tests follow a request through its progress: a worker quicker than the fresh wait would skip it
    monkeypatch.setattr(waiting, "FRESH_GRACE", waiting.GRACE)
    yield
    if offload._runner is not None:
        offload._runner.shutdown()
    offload._runner = None


def progress_lines(at) -> list[str]:
    return [m.value for m in at.markdown if ":material/hourglass_top:" in m.value]


def run_until(at, ready, seconds=180):
    deadline = time.monotonic() + seconds
    while not ready(at) and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
    return ready(at)


@pytest.mark.slow  # a worker process starts (torch import) and computes the exact posterior
def test_the_inference_page_draws_progress_cancels_and_then_draws_the_result(app, process_mode):
    """The page's script returns at once with the request's progress and a Cancel button (the session is
    free meanwhile); Cancel says so and offers Run again; once computed in the worker, the page draws it."""
    from tests.helpers import TINY_MOONS

    at = app("explorer/ui/pages/inference.py", dataset="moons", pair=TINY_MOONS)
    assert progress_lines(at) and "This image's exact posterior" in progress_lines(at)[0]
    assert not at.get("plotly_chart")  # nothing drawn from a result that is not there
    at.button(key="long_cancel_inference").click().run()
    assert any("cancelled" in i.value for i in at.info) and not progress_lines(at)
    at.button(key="long_again_inference").click().run()
    # the image's numbers, then the page's later requests (each posterior family's panel) until none is pending
    assert run_until(at, lambda a: len(a.metric) >= 3 and not progress_lines(a))
    labels = [m.label for m in at.metric]
    assert labels[0].startswith("log p(x)") and labels[1:3] == ["ELBO", "KL(q ‖ p(z|x))"]
    assert not progress_lines(at) and not at.error


@pytest.mark.slow  # t-SNE twice: in a worker and here
def test_a_projection_fitted_in_a_worker_is_the_one_fitted_here(tiny_digits_dir, process_mode):
    from explorer import long_tasks

    stamp = 1.0
    args = (str(tiny_digits_dir), stamp, "vae", "tsne", (("perplexity", 10.0),))
    ticket = finish(offload.runner().submit("projection", args, who="s"), 240)
    there = ticket.value()
    here = long_tasks.projection(*args)
    codes = long_tasks.codes(str(tiny_digits_dir), stamp, "vae").mean
    assert there.transform(codes[:5]).shape == (5, 2)
    assert (there.transform(codes) == here.transform(codes)).all()  # the same seeded fit, computed elsewhere


def test_inline_requests_are_shared_too_and_kept_within_their_limit():
    """LATENT_EXPLORER_LONG=inline (tests, one user): the asker's thread computes, a second asker of the
    same request waits for that computation instead of starting its own; finished ones are kept, at most
    RESULTS_KEPT a task, the least recently asked dropped first."""
    import threading

    runner = Runner(k=1, run_inline=True, tasks="tests.offload_tasks", budgets=BUDGETS)
    got = []
    threads = [threading.Thread(target=lambda: got.append(runner.submit("sleep", (0.5,), who="s"))) for _ in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(got) == 2 and got[0] is got[1] and runner.computed == 1
    assert got[0].value()[0] == os.getpid()
    for i in range(offload.RESULTS_KEPT_ELSE):
        runner.submit("sleep", (0.0, str(i)))
    assert runner.computed == 1 + offload.RESULTS_KEPT_ELSE
    runner.submit("sleep", (0.0, str(offload.RESULTS_KEPT_ELSE - 1)))  # kept: no work
    assert runner.computed == 1 + offload.RESULTS_KEPT_ELSE
    runner.submit("sleep", (0.5,))  # the least recently asked, dropped: computed again
    assert runner.computed == 2 + offload.RESULTS_KEPT_ELSE


@pytest.mark.slow  # a worker process starts
def test_a_tab_hammering_new_requests_and_a_full_queue_are_refused_before_queueing(runners, monkeypatch):
    from explorer.i18n import tr
    from explorer.offload import RequestRefused

    runner = runners(k=1)
    for i in range(offload.MAX_SESSION_REQUESTS):  # one tab, a new setting each time (a t-SNE perplexity, ...)
        runner.submit("sleep", (60.0, str(i)), who="greedy")
    with pytest.raises(RequestRefused) as caught:
        runner.submit("sleep", (60.0, "one more"), who="greedy")
    assert caught.value.key == "err_long_too_many" and tr("en", "err_long_too_many", **caught.value.values) == str(
        caught.value
    )
    assert runner.submit("sleep", (60.0, "0"), who="greedy").waiters  # what it has under way it still gets
    monkeypatch.setattr(offload, "MAX_QUEUED_REQUESTS", len(runner._queue) + 1)
    runner.submit("sleep", (60.0, "another tab"), who="other")  # another tab: its own allowance, one queue
    with pytest.raises(RequestRefused, match="queued") as caught:
        runner.submit("sleep", (60.0, "a third tab"), who="third")
    assert caught.value.key == "err_long_queue_full"
    assert runner.computed == offload.MAX_SESSION_REQUESTS + 1  # the refused ones were never queued


def test_a_tab_moving_on_releases_its_requests_a_queued_one_nobody_else_wants_is_dropped(runners):
    """Runner.release (waiting.ask's picks in quick succession): the released requests stop counting against
    the tab, so it is not refused; a queued one nobody else waits for leaves the queue uncomputed, one another
    tab waits for stays queued, and a running one runs on."""
    runner = runners(k=1)
    running = runner.submit("sleep", (60.0, "running"), who="tab")
    deadline = time.monotonic() + 60
    while running.state != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.state == "running"
    for i in range(offload.MAX_SESSION_REQUESTS - 1):
        runner.submit("sleep", (60.0, str(i)), who="tab")
    shared = runner.submit("sleep", (60.0, "0"), who="other")  # another tab waits for this one too
    for i in range(offload.MAX_SESSION_REQUESTS - 1):
        runner.release("sleep", (60.0, str(i)), "tab")
    runner.release("sleep", (60.0, "running"), "tab")
    assert [t.args for t in runner._queue] == [(60.0, "0")] and shared.state == "queued"
    assert running.state == "running" and not running.waiters
    for i in range(offload.MAX_SESSION_REQUESTS):  # a full allowance again: nothing it let go counts
        runner.submit("sleep", (60.0, f"next {i}"), who="tab")


@pytest.mark.slow  # a worker process starts and fits t-SNE
def test_a_page_mapping_a_slow_projection_draws_pca_and_its_progress_then_the_projection(app, process_mode):
    """The Decoder page of a 10-D pair with ?proj=tsne: its map is PCA and says so while t-SNE fits in a
    worker, with the fit's progress above; once fitted the page draws t-SNE."""
    from tests.helpers import TINY_DIGITS

    at = app("explorer/ui/pages/decoder.py", dataset="digits", pair=TINY_DIGITS, proj="tsne", proj_perplexity="12")
    assert progress_lines(at) and "The projection of the codes" in progress_lines(at)[0]
    assert any("(PCA)" in c.value for c in at.caption), [c.value for c in at.caption]
    assert run_until(at, lambda a: any("t-SNE" in c.value for c in a.caption))
    assert not progress_lines(at) and not at.error


def test_a_set_edited_on_disk_while_the_app_holds_it_fails_its_long_request_with_a_message(app_runs, monkeypatch):
    """The server holds a set (cache.model_set) while its weights are overwritten on disk: the next long
    request reads the folder afresh (as a worker does), is refused by the checksum, and the page says so in
    one line; no traceback, and the pages that need only what the server holds go on."""
    import shutil

    from explorer import long_tasks
    from tests.helpers import open_app

    runs = app_runs.parent / f"{app_runs.name}-edited"
    shutil.copytree(app_runs, runs)
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(runs))
    monkeypatch.setattr(offload, "_runner", None)
    at = open_app("explorer/ui/pages/inference.py", dataset="moons", pair="runs/tiny-moons", pick="0")
    weights = runs / "tiny-moons" / "vae.safetensors"
    weights.write_bytes(weights.read_bytes()[:-64] + b"\x00" * 64)  # the same size, other bytes
    for cached in (long_tasks.model_set, long_tasks.dataset, long_tasks.codes, long_tasks.bank):
        cached.cache_clear()  # as a worker started after the edit: it has read nothing yet
    at.number_input(key="pick").set_value(1).run()
    assert not at.exception
    assert any("cannot be drawn" in e.value and "tiny-moons" in e.value for e in at.error), [e.value for e in at.error]
    at.switch_page("explorer/ui/pages/decoder.py").run()
    assert not at.exception and not at.error


def test_shared_results_round_trip_the_result_types_without_pickle(tmp_path):
    """What the tasks return (dataclasses of arrays, dicts keyed by ints, tuples, bytes, NaN) comes back
    equal from the .npz; a fitted t-SNE comes back placing codes where the original does."""
    import numpy as np

    from explorer import shared_results as sr
    from explorer.inference import SplitGaps
    from explorer.latents import ManifoldGrid
    from explorer.projection import TSNE

    grid = ManifoldGrid(np.zeros((4, 2), np.float32), np.arange(2.0), np.arange(2.0)[::-1], "prior")
    value = {
        "grid": (grid, np.ones((2, 3), np.uint8), b"\x89PNG"),
        "gaps": SplitGaps(np.arange(3), np.array([0.1, np.nan, 2.0]), np.zeros(3), np.ones(3)),
        "iwae": {1: -90.5, 50: float("nan")},
        7: [np.float32(1.5), None, True, "text"],
    }
    assert sr.store("k1", value, tmp_path)
    back = sr.load("k1", tmp_path)
    assert back.keys() == value.keys() and back[7] == value[7] and type(back[7][0]) is np.float32
    g, tiled, png = back["grid"]
    assert isinstance(g, ManifoldGrid) and g.source == "prior" and (g.ys == grid.ys).all() and png == b"\x89PNG"
    assert tiled.dtype == np.uint8 and tiled.shape == (2, 3)
    assert isinstance(back["gaps"], SplitGaps) and np.array_equal(
        back["gaps"].kl_posterior, value["gaps"].kl_posterior, equal_nan=True
    )
    assert back["iwae"][1] == -90.5 and np.isnan(back["iwae"][50])
    codes = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    fitted = TSNE(perplexity=5.0, max_fit=30).fit(codes)
    assert sr.store("k2", fitted, tmp_path)
    again = sr.load("k2", tmp_path)
    probe = np.concatenate([codes[:5], codes[:3] + 0.01])
    assert (
        isinstance(again, TSNE)
        and again.perplexity == 5.0
        and (again.transform(probe) == fitted.transform(probe)).all()
    )
    assert not sr.store("k3", object(), tmp_path) and not (tmp_path / "k3.npz").exists()  # unstorable: not kept


def test_shared_results_refuse_a_tampered_file_and_delete_it(tmp_path):
    """A result file is trusted only as written: another request's file, a class outside the result modules,
    an object array (a pickle inside), a truncated file or other fields are a miss, and the file is gone."""
    import io
    import json

    import numpy as np

    from explorer import shared_results as sr
    from explorer.inference import SplitGaps

    def write(name, meta, **arrays):
        buffer = io.BytesIO()
        np.savez(buffer, structure=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
        (tmp_path / f"{name}.npz").write_bytes(buffer.getvalue())

    sr.store("good", SplitGaps(np.arange(2), np.zeros(2), np.zeros(2), np.zeros(2)), tmp_path)
    (tmp_path / "moved.npz").write_bytes((tmp_path / "good.npz").read_bytes())  # another key's file
    write("foreign", {"format": sr.FORMAT, "key": "foreign", "value": {"class": "os:system", "fields": {}}})
    write(
        "fields",
        {
            "format": sr.FORMAT,
            "key": "fields",
            "value": {"class": "explorer.inference:SplitGaps", "fields": {"index": 1}},
        },
    )
    write(
        "objects", {"format": sr.FORMAT, "key": "objects", "value": {"array": 0}}, a0=np.array([{"x": 1}], dtype=object)
    )
    (tmp_path / "cut.npz").write_bytes((tmp_path / "good.npz").read_bytes()[:100])
    for name in ("moved", "foreign", "fields", "objects", "cut"):
        assert sr.load(name, tmp_path) is sr.MISS, name
        assert not (tmp_path / f"{name}.npz").exists(), name
    assert isinstance(sr.load("good", tmp_path), SplitGaps)


def test_shared_results_stay_within_their_size_dropping_the_least_recently_used(tmp_path):
    import numpy as np

    from explorer import shared_results as sr

    block = np.zeros(5_000, np.uint8)  # ~5.4 kB a file
    for name in ("a", "b", "c"):
        assert sr.store(name, block, tmp_path, limit=100_000)
        time.sleep(0.01)
    os.utime(tmp_path / "a.npz", (time.time() + 5, time.time() + 5))  # "a" read since (load touches it)
    assert sr.store("d", np.zeros(30_000, np.uint8), tmp_path, limit=50_000) is False  # over a quarter: not kept
    assert sr.store("e", np.zeros(1_000, np.uint8), tmp_path, limit=17_000)  # 4 files > 17 kB: the oldest goes
    kept = sorted(p.stem for p in tmp_path.glob("*.npz"))
    assert kept == ["a", "c", "e"] and sum(p.stat().st_size for p in tmp_path.glob("*.npz")) <= 17_000


@pytest.mark.slow  # a worker process starts (torch import)
def test_the_train_pages_likelihood_scores_come_from_a_worker(app, process_mode):
    """The Train form's likelihood explainer scores 200 decodes in a worker: the page returns with its
    progress (the form usable meanwhile), then draws the table; a second server process reads it from disk."""
    from explorer.i18n import CATALOGUES
    from tests.helpers import TINY_MOONS

    at = app("explorer/ui/pages/train.py", dataset="moons", pair=TINY_MOONS)
    assert progress_lines(at) and CATALOGUES["en"]["long_task_likelihoods"] in progress_lines(at)[0]
    assert at.selectbox(key="train_likelihood").options  # the form is there meanwhile
    col = CATALOGUES["en"]["col_likelihood"]
    assert run_until(at, lambda a: any(col in d.value.columns for d in a.dataframe))
    assert not progress_lines(at) and not at.error
    offload._runner.shutdown()
    offload._runner = None  # another server process: a fresh runner, no worker yet
    again = app("explorer/ui/pages/train.py", dataset="moons", pair=TINY_MOONS)
    assert any(col in d.value.columns for d in again.dataframe) and not progress_lines(again)
    assert not offload._runner._workers  # read from the shared results, computed by nobody here


def same(a, b, where="result"):
    """a and b equal all the way down (types, dtypes, NaN where NaN)."""
    import dataclasses

    import numpy as np

    assert type(a) is type(b), where
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), where
    else:
        assert a == b or a != a and b != b, where


@pytest.mark.slow  # an exact posterior, a manifold grid, a hole map, the likelihoods, the families of the tiny pair
@pytest.mark.parametrize(
    "task, args",
    [
        ("inference", (0,)),
        ("manifold", ("vae", 5)),
        ("hole_map", ("ae", 0, 1, 8)),
        ("likelihoods", (10, 0.1)),
        ("pick", (0,)),  # the Inference page's own analysis with its family panel
        ("family_panel", (0,)),  # the Inference page's families section: a panel, the same decoder's q*s
        ("same_decoder", (0, ("diag", "full", "flow"), False)),
    ],
)
def test_the_tasks_own_results_come_back_from_disk_as_computed(tiny_pair_dir, tmp_path, task, args):
    from explorer import long_tasks
    from explorer import shared_results as sr

    value = getattr(long_tasks, task)(str(tiny_pair_dir), 1.0, *args)
    assert sr.store(task, value, tmp_path)
    same(value, sr.load(task, tmp_path))
