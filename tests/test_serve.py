"""A class behind HAProxy (serve/): the config HAProxy accepts, and two real Streamlit processes behind it
that share the runs folder, driven over Streamlit's own protocol (bench/load.py's client)."""

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.harness import free_port
from serve import Backend, check_haproxy_config, find_haproxy, haproxy_config
from tests.helpers import run_cli


def haproxy_or_skip():
    if find_haproxy() is None:
        if os.environ.get("CI"):
            pytest.fail("HAProxy is missing in CI: .ci/run installs Debian's haproxy package")
        pytest.skip("no HAProxy here: apt-get install haproxy (or make haproxy)")


@pytest.mark.parametrize("hosts", [["127.0.0.1:8601"], ["10.0.0.5:8601", "10.0.0.5:8602", "app2.school:8601"]])
def test_haproxy_accepts_the_config_and_it_sticks_every_backend_by_cookie(tmp_path, hosts):
    haproxy_or_skip()
    backends = [Backend.parse(h) for h in hosts]
    text = haproxy_config(backends, "0.0.0.0", 8501)
    (tmp_path / "haproxy.cfg").write_text(text)
    assert check_haproxy_config(tmp_path / "haproxy.cfg") is None
    assert "cookie LE_SERVER insert" in text and "timeout tunnel" in text and "/_stcore/health" in text
    for i, host in enumerate(hosts, 1):
        assert f"server s{i} {host} check" in text and f"cookie s{i}" in text


@pytest.mark.parametrize("bad", ["nohost", "host:", ":8501", "host:99999", "host:http"])
def test_a_bad_backend_is_refused_in_one_line(bad):
    done = run_cli("--print-config", "--backend", bad, module="serve")
    assert done.returncode == 2 and "a backend is host:port" in done.stderr and "Traceback" not in done.stderr


def test_print_config_writes_what_haproxy_config_makes():
    done = run_cli("--print-config", "--backend", "a:8601", "--backend", "b:8601", "--port", "80", module="serve")
    assert done.returncode == 0
    assert done.stdout == haproxy_config([Backend("a", 8601), Backend("b", 8601)], "127.0.0.1", 80)


def visit(url: str, cookie: str | None, page: str, check=None):
    """One session through the balancer: open the map, switch to `page`; the elements drawn and the cookie
    the balancer set. check(texts, cookie), if given, runs while the session is open."""
    from bench.load import Session, run_async

    async def go():
        pool = ThreadPoolExecutor(max_workers=2)
        s = Session(url)
        s.cookie = cookie or ""
        s.texts = []
        await s.open()
        await s.rerun(page_name=page)
        texts = "\n".join(s.texts)
        if check:
            await asyncio.get_running_loop().run_in_executor(pool, check, texts, s.cookie)
        await s.close()
        pool.shutdown()
        return texts, s.cookie

    return run_async(go())


def media_status(url: str, path: str, cookie: str) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url + path, headers={"Cookie": cookie})) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
def test_two_processes_behind_haproxy_share_every_saved_run_and_stick_sessions(app_runs):
    """A page opened on either process lists every saved run; a browser's cookie keeps it on one process
    (its images live there); the load generator holds two sessions through the balancer without error."""
    from bench.load import private_mb, run_round
    from serve import balanced

    haproxy_or_skip()
    with balanced([free_port(), free_port()], free_port(), env={"LATENT_EXPLORER_RUNS": str(app_runs)}) as (
        url,
        procs,
    ):
        pids = [p.pid for p in procs]
        assert all(mb < 250 for mb in (private_mb([p]) for p in pids))  # nothing imported torch yet
        for server in ("s1", "s2"):  # the cookie chooses the process, as it does for a returning browser
            texts, _ = visit(url, f"LE_SERVER={server}", "train")
            assert "tiny-moons" in texts and "tiny-digits" in texts, server
        assert all(mb > 250 for mb in (private_mb([p]) for p in pids))  # both processes served a page

        statuses = []

        def fetch_image(texts, cookie):  # as the page's <img> does, then with the other process's cookie
            image = next(line.split('"')[1] for line in texts.splitlines() if "/media/" in line)
            other = "LE_SERVER=s1" if cookie.endswith("s2") else "LE_SERVER=s2"
            statuses.extend([media_status(url, image, cookie), media_status(url, image, other)])

        _, cookie = visit(url, None, "decoder", fetch_image)  # a new browser: the balancer picks and says so
        assert cookie.startswith("LE_SERVER=s")
        assert statuses == [200, 404]  # why stickiness: the image lives in the process that drew it

        r = run_round(url, pids, 2, window_s=3.0)  # the load generator's smoke test
        assert not r.errors and len(r.open_s) == 2 and len(r.move_s) >= 2
        assert 0 < max(r.move_s) < 60 and r.server_cpu_s > 0


def tabs_on(browser, url: str) -> list:
    """Two tabs in their own browser contexts, stuck to process s1 and s2 by the balancer's cookie."""
    from tests.helpers import BROWSER_TIMEOUT_MS

    tabs = []
    for server in ("s1", "s2"):
        context = browser.new_context(viewport={"width": 1400, "height": 1400})
        context.add_cookies([{"name": "LE_SERVER", "value": server, "url": url}])
        tab = context.new_page()
        tab.set_default_timeout(BROWSER_TIMEOUT_MS)
        tabs.append(tab)
    return tabs


@pytest.mark.browser
@pytest.mark.slow
def test_a_run_started_through_one_process_is_watched_and_cancelled_through_the_other(browser, tmp_path):
    """Two tabs stuck to different processes (their balancer cookies): one starts a run, the other lists it,
    watches it train and cancels it; both then show it cancelled. The run folder is the one record."""
    import json
    import re

    from serve import balanced
    from tests.helpers import BROWSER_TIMEOUT_MS, wait_drawn

    haproxy_or_skip()
    env = {"LATENT_EXPLORER_RUNS": str(tmp_path / "runs"), "LATENT_EXPLORER_UPLOADS": str(tmp_path / "uploads")}
    running = re.compile(r"class-run: running: (V?AE) epoch (\d+) of 200")
    with balanced([free_port(), free_port()], free_port(), env=env) as (url, _):
        tabs = tabs_on(browser, url)
        first, second = tabs
        first.goto(f"{url}/train?dataset=digits&pair=digits-2d", timeout=BROWSER_TIMEOUT_MS)
        wait_drawn(first)
        first.get_by_label("Epochs (max 200)").fill("200")
        first.get_by_role("textbox", name="Run name").fill("class-run")
        first.get_by_role("button", name="Train the pair").click()
        first.wait_for_url(re.compile(r"[?&]run=class-run"))
        first.get_by_text(running).wait_for()

        second.goto(first.url, timeout=BROWSER_TIMEOUT_MS)  # the other process, the same link
        wait_drawn(second)
        epoch = int(running.search(second.get_by_text(running).inner_text()).group(2))
        second.wait_for_function(  # watched live from the other process
            """(n) => { const m = document.body.innerText.match(/class-run: running: (V?AE) epoch (\\d+)/);
                        return m && (Number(m[2]) > n || m[1] === "VAE"); }""",
            arg=epoch,
        )
        assert second.get_by_role("link", name="class-run").count() >= 1  # listed there
        stuck = [c["value"] for t in tabs for c in t.context.cookies() if c["name"] == "LE_SERVER"]
        assert stuck == ["s1", "s2"]  # each tab still on its own process
        second.locator(".st-key-train_cancel button").click()
        for tab in tabs:  # both learn it ended, without a reload
            tab.get_by_text(re.compile(r"class-run: cancelled .*: nothing was saved")).first.wait_for()
        state = tmp_path / "runs" / "class-run" / "job.json"  # the record both processes read
        assert not state.exists() or json.loads(state.read_text())["status"] == "cancelled"
        for tab in tabs:
            tab.context.close()


def test_reclaim_frees_what_a_freeze_kept_and_settling_starts_one_reclaimer():
    """A closed session frozen while it was open (settle_garbage) is garbage in a cycle: no ordinary
    collection frees it, reclaim() does."""
    import gc
    import weakref

    from explorer import ui

    class Session:
        pass

    s = Session()
    s.me = s  # a cycle, as Streamlit's sessions hold (callbacks bound to themselves)
    gone = weakref.ref(s)
    gc.freeze()
    try:
        del s
        gc.collect()
        assert gone() is not None  # frozen: the cycle collector never looks at it
        ui.reclaim()
        assert gone() is None
    finally:
        gc.unfreeze()
    ui.settle_garbage(every=1e9)
    ui.settle_garbage(every=1e9)
    assert ui._housekeeper is not None and ui._housekeeper.is_alive()
    assert sum(t.name == "reclaim" for t in threading.enumerate()) == 1


@pytest.mark.browser
@pytest.mark.slow
def test_a_class_queues_cancels_from_another_tab_sees_a_killed_worker_removes_and_restarts(browser, tmp_path):
    """Two processes behind the balancer, one training slot: a teacher's tab queues three runs; a student's
    tab on the other process sees their places and cancels the last; the first run's worker is killed
    (kill -9) and both tabs show it failed with the reason while the next starts; the cancelled run is
    removed from the other tab; after a restart of both processes every run is there, in Chinese too."""
    import json
    import os
    import re
    import signal
    import time

    from serve import balanced
    from tests.helpers import BROWSER_TIMEOUT_MS, wait_drawn

    haproxy_or_skip()
    runs = tmp_path / "runs"
    env = {"LATENT_EXPLORER_RUNS": str(runs), "LATENT_EXPLORER_UPLOADS": str(tmp_path / "up")}
    env["LATENT_EXPLORER_MAX_RUNS"] = "1"  # every process and worker reads it: one run trains, the rest queue

    def state(name):
        return json.loads((runs / name / "job.json").read_text())

    with balanced([free_port(), free_port()], free_port(), env=env) as (url, _):
        teacher, student = tabs_on(browser, url)
        teacher.goto(f"{url}/train?dataset=digits&pair=digits-2d", timeout=BROWSER_TIMEOUT_MS)
        wait_drawn(teacher)
        for name, epochs in (("q-a", "200"), ("q-b", "1"), ("q-c", "1")):
            teacher.get_by_label("Epochs (max 200)").fill(epochs)
            teacher.get_by_role("textbox", name="Run name").fill(name)
            teacher.get_by_role("button", name="Train the pair").click()
            teacher.wait_for_url(re.compile(rf"[?&]run={name}"))
            wait_drawn(teacher)
        student.goto(f"{url}/train?dataset=digits&pair=digits-2d", timeout=BROWSER_TIMEOUT_MS)
        wait_drawn(student)
        student.get_by_text(re.compile(r"^queued: number 2 in line; 1 runs train at once")).first.wait_for()
        student.locator(".st-key-cancel_q-c button").click()
        for tab in (teacher, student):  # the teacher's tab polls its runs: it learns without a reload
            tab.get_by_text(re.compile(r"^cancelled \d{4}-\d\d-\d\d \d\d:\d\d: nothing was saved$")).first.wait_for()
        assert state("q-c")["status"] == "cancelled"

        deadline = time.time() + 300
        while (state("q-a").get("phase") or {}).get("name") != "training":
            assert time.time() < deadline, state("q-a")
            time.sleep(0.5)
        pid = state("q-a")["worker"]["pid"]
        os.kill(pid, signal.SIGKILL)  # as the OOM killer or a teacher's kill -9 would
        dead = re.compile(
            rf"^failed .*: its worker process \({pid}\) ended while .*\(killed (by signal 9|or crashed)\)"
        )
        for tab in (teacher, student):
            tab.get_by_text(dead).first.wait_for()
        assert state("q-a")["status"] == "failed" and not list((runs / "q-a").glob("*.safetensors"))
        while state("q-b")["status"] == "queued":  # the slot went to the next in line
            assert time.time() < deadline, state("q-b")
            time.sleep(0.5)

        student.locator(".st-key-remove_q-c button").click()
        student.locator(".st-key-remove_yes_q-c").get_by_role("button", name="Remove for good").click()
        student.get_by_text("Removed q-c.").wait_for()
        assert not (runs / "q-c").exists()
        teacher.goto(f"{url}/train?dataset=digits&pair=digits-2d", timeout=BROWSER_TIMEOUT_MS)  # the other process
        wait_drawn(teacher)
        links = teacher.get_by_role("link")
        assert links.filter(has_text="q-a").count() == 1 and links.filter(has_text="q-c").count() == 0
        for tab in (teacher, student):
            tab.context.close()

    with balanced([free_port(), free_port()], free_port(), env=env) as (url, _):  # both processes restarted
        tab = tabs_on(browser, url)[1]
        tab.goto(f"{url}/train?dataset=digits&pair=digits-2d&lang=zh", timeout=BROWSER_TIMEOUT_MS)
        wait_drawn(tab)
        assert tab.get_by_role("link", name="q-a").count() == 1 and tab.get_by_role("link", name="q-b").count() == 1
        assert tab.get_by_role("link", name="q-c").count() == 0
        # the reason in the reader's language
        tab.get_by_text(re.compile(rf"^失败 .*训练进程（{pid}）在.*时结束了")).first.wait_for()
        tab.context.close()
