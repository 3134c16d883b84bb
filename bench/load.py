"""Load: many sessions driving the real server over Streamlit's own protocol, no browser.

Each simulated student does what the frontend does: GET the page (a balancer's sticky cookie comes
with it), open the websocket /_stcore/stream, send BackMsg rerun requests (the latent map, then the
Decoder page), then move the z0 slider once a second as a fragment rerun carrying the sliders'
widget states, and fetch the new decoded image from /media like an <img> does, over the tab's one
kept-alive HTTP connection as a browser does. A move counts only when its image is the new one: the
caption drawn with it names the code just sent, and the bytes fetched are an image (JPEG or PNG).
The time to the new image runs from sending the move to the image's last byte. One asyncio process
holds every session, so its own CPU is small and reported beside the servers'.

LATENT_EXPLORER_LOAD_MEMORY=keep measures the rounds only and keeps the memory-return figures of
bench/load.json (the row gives their date): the rounds alone fit a 10-minute exclusive slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

QUERY = "dataset=digits&pair=digits-2d"  # the bundled 8x8 digits pair: what a class opens first
TIMEOUT_S = 120  # one script run or image; beyond it the interaction counts as an error
OPEN_LIMIT_S = 300  # a round measures once every session has opened, or after this
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")  # st.image's JPEG, or a PNG


def run_async(coro):
    """asyncio.run(coro), also from a thread whose event loop is already running (pytest after
    playwright's sync API, a notebook): then the coroutine runs on a fresh loop in its own thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as ex:
        return ex.submit(asyncio.run, coro).result()


class LoadError(Exception):
    """An interaction that failed: an exception or error shown, a closed socket, a timeout, a bad image."""


@dataclass
class Sliders:
    ids: dict[str, str] = field(default_factory=dict)  # label -> widget id
    values: dict[str, float] = field(default_factory=dict)
    bounds: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # min, max, step
    fragment: str = ""


class Session:
    """One browser tab's worth of protocol: one websocket, its cookie, its page and widget state."""

    def __init__(self, base: str, pool: ThreadPoolExecutor):
        self.base, self.pool = base.rstrip("/"), pool
        self.cookie = ""
        self.ws = None
        self.page_hash = ""
        self.query = QUERY
        self.sliders = Sliders()
        self.step = 0
        self.texts: list[str] | None = None  # a list: every element of the last run, as protobuf text
        self.http: http.client.HTTPConnection | None = None  # kept alive, as a browser keeps its tab's

    def _get(self, path: str) -> bytes:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        for attempt in (0, 1):  # a kept-alive connection the server closed meanwhile: once more on a new one
            if self.http is None:
                where = urlsplit(self.base)
                self.http = http.client.HTTPConnection(where.hostname, where.port, timeout=TIMEOUT_S)
            try:
                self.http.request("GET", path, headers=headers)
                r = self.http.getresponse()
                body = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.http.close()
                self.http = None
                if attempt:
                    raise
        if r.status != 200:
            raise LoadError(f"GET {path}: HTTP {r.status}")
        jar = [c.split(";", 1)[0] for c in r.headers.get_all("Set-Cookie") or []]
        if jar:
            self.cookie = "; ".join(jar)
        return body

    async def get(self, path: str) -> bytes:
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, self._get, path)
        except (OSError, http.client.HTTPException) as exc:
            raise LoadError(f"GET {path}: {type(exc).__name__}: {exc}") from exc

    async def open(self) -> float:
        """The latent map, as a new tab opens it: seconds to the script's end."""
        import websockets

        started = time.perf_counter()
        await self.get(f"/?{QUERY}")  # the page itself: the balancer's cookie comes with it
        ws_url = "ws://" + urlsplit(self.base).netloc + "/_stcore/stream"
        headers = {"Cookie": self.cookie} if self.cookie else {}
        self.ws = await websockets.connect(
            ws_url,
            subprotocols=["streamlit"],
            additional_headers=headers,
            max_size=None,
            open_timeout=TIMEOUT_S,
            ping_interval=None,  # as a browser: the server pings and the client answers (its own pings time out)
        )
        await self.rerun(page_name="")
        return time.perf_counter() - started

    async def decoder(self) -> float:
        """Switch to the Decoder page (a page link): seconds to the script's end."""
        started = time.perf_counter()
        images = await self.rerun(page_name="decoder")
        if "z0" not in self.sliders.ids or not any(c.startswith("VAE decodes") for c, _ in images):
            raise LoadError("the Decoder page drew no z0 slider or no decoded image")
        return time.perf_counter() - started

    async def move(self) -> float:
        """z0 one step along (back and forth), as a fragment rerun; seconds to the new image's last byte.
        LoadError unless the image drawn is the one for the code sent (its caption names that code: a stale
        image from an earlier move names another) and its bytes are an image."""
        import numpy as np
        from streamlit.proto.BackMsg_pb2 import BackMsg

        lo, hi, step = self.sliders.bounds["z0"]
        self.step += 1
        delta = 5 * step if (self.step // 4) % 2 == 0 else -5 * step
        self.sliders.values["z0"] = min(hi, max(lo, self.sliders.values["z0"] + delta))
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string, state.page_script_hash, state.fragment_id = (
            self.query,
            self.page_hash,
            self.sliders.fragment,
        )
        for label, widget_id in self.sliders.ids.items():
            w = state.widget_states.widgets.add()
            w.id = widget_id
            w.double_array_value.data.append(self.sliders.values[label])
        # the caption the page gives the new image: the code as the decoder got it (float32), two decimals
        shown = list(self.sliders.ids)  # in the order drawn; the caption names the first four
        code = ", ".join(f"{float(np.float32(self.sliders.values[k])):.2f}" for k in shown[:4])
        code += " …" if len(shown) > 4 else ""
        started = time.perf_counter()
        images = await self.rerun(msg=msg)
        decoded = [(caption, url) for caption, url in images if caption.startswith("VAE decodes")]
        if not decoded:
            raise LoadError("a slider move drew no decoded image")
        if decoded[0][0] != f"VAE decodes ({code})":
            raise LoadError(f"a stale image: sent ({code}), drawn {decoded[0][0]!r}")
        if not (await self.get(decoded[0][1])).startswith(IMAGE_MAGIC):
            raise LoadError("the decoded image is neither a JPEG nor a PNG")
        return time.perf_counter() - started

    async def rerun(self, page_name: str | None = None, msg=None) -> list[tuple[str, str]]:
        """Send a rerun request and read until the script has finished; the (caption, url) of each image
        drawn. Tracks what the frontend would: page hash, query string, the fragment's sliders."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if msg is None:
            msg = BackMsg()
            msg.rerun_script.query_string = self.query
            msg.rerun_script.page_name = page_name or ""
            self.sliders = Sliders()
        self.texts = [] if self.texts is not None else None
        await self.ws.send(msg.SerializeToString())
        images: list[tuple[str, str]] = []
        while True:
            try:
                data = await asyncio.wait_for(self.ws.recv(), TIMEOUT_S)
            except (asyncio.TimeoutError, OSError, Exception) as exc:  # websockets' ConnectionClosed included
                raise LoadError(f"websocket: {type(exc).__name__}: {exc}") from exc
            fwd = ForwardMsg()
            fwd.ParseFromString(data)
            if self._message(fwd, images):
                return images

    def _message(self, fwd, images: list) -> bool:
        """Take in one ForwardMsg; True once the script run has finished."""
        kind = fwd.WhichOneof("type")
        if kind == "new_session":
            self.page_hash = fwd.new_session.page_script_hash
        elif kind == "page_info_changed":
            self.query = fwd.page_info_changed.query_string
        elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
            self._element(fwd.delta.new_element, fwd.delta.fragment_id, images)
        elif kind == "script_finished":
            if fwd.script_finished == 1:  # FINISHED_WITH_COMPILE_ERROR
                raise LoadError("the script did not compile")
            return fwd.script_finished != 2  # 2: ended early for a newer rerun; wait for that one
        return False

    def _element(self, element, fragment: str, images: list) -> None:
        kind = element.WhichOneof("type")
        if self.texts is not None:
            self.texts.append(str(element))
        if kind == "exception":
            raise LoadError(f"the page raised {element.exception.type}: {element.exception.message[:200]}")
        if kind == "alert" and element.alert.format == 1:  # ERROR
            raise LoadError(f"the page showed an error: {element.alert.body[:200]}")
        if kind == "slider" and element.slider.label.startswith("z") and element.slider.label[1:].isdigit():
            s = element.slider
            self.sliders.ids[s.label] = s.id
            self.sliders.values[s.label] = (list(s.value) or list(s.default))[0]
            self.sliders.bounds[s.label] = (s.min, s.max, s.step)
            self.sliders.fragment = fragment
        if kind == "imgs":
            images += [(im.caption, im.url) for im in element.imgs.imgs]

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
            self.ws = None
        if self.http is not None:
            self.http.close()
            self.http = None


def idle_seconds() -> float:
    """Idle core-seconds of the whole machine since boot (/proc/stat: idle + iowait), 0 where unreadable."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        return (int(fields[4]) + int(fields[5])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (Linux /proc)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


@dataclass
class Round:
    sessions: int
    open_s: list[float] = field(default_factory=list)  # latent map, then decoder page: per session
    move_s: list[float] = field(default_factory=list)  # counted in the window only
    errors: list[str] = field(default_factory=list)
    window_s: float = 0.0
    server_cpu_s: float = 0.0
    generator_cpu_s: float = 0.0
    rss_before_mb: float = 0.0
    rss_during_mb: float = 0.0
    load_average: float = 0.0
    machine_idle_s: float = 0.0  # idle core-seconds of the whole machine in the window (/proc/stat)


async def _student(
    base: str, pool, r: Round, opened: asyncio.Event, window: dict, stop: asyncio.Event, phase: float = 0.0
):
    """Open the map and the Decoder page, then move z0 once a second (the next move waits for the last
    image, as a person waits to see it) until told to stop; moves inside the window are counted. phase
    (0-1 s) is when in each second this student moves: students do not move in step, while sessions that
    finished opening together would."""
    s = Session(base, pool)
    try:
        first = await s.open()
        r.open_s.append(first + await s.decoder())
        opened.set()
        await asyncio.sleep(phase)
        next_at = time.perf_counter()
        while not stop.is_set():
            next_at += 1.0
            t0 = time.perf_counter()
            seconds = await s.move()
            if window.get("start") is not None and t0 >= window["start"] and window.get("end") is None:
                r.move_s.append(seconds)
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    except Exception as exc:  # LoadError, or a refused or reset connection: counted, never a hang
        r.errors.append(str(exc) if isinstance(exc, LoadError) else f"{type(exc).__name__}: {exc}")
        opened.set()
    finally:
        await s.close()


async def _round(base: str, pids: list[int], n: int, window_s: float) -> Round:
    r = Round(n, rss_before_mb=rss_mb(pids))
    pool = ThreadPoolExecutor(max_workers=min(64, 4 + n))
    window: dict = {}
    stop = asyncio.Event()
    events = [asyncio.Event() for _ in range(n)]
    phases = random.Random(n).random  # seeded: the same moments each run
    tasks = [asyncio.create_task(_student(base, pool, r, e, window, stop, phases())) for e in events]
    waits = [asyncio.create_task(e.wait()) for e in events]
    _, late = await asyncio.wait(waits, timeout=OPEN_LIMIT_S)
    for task in late:  # still opening: measured as they are, and said
        task.cancel()
    if late:
        r.errors.append(f"{len(late)} sessions had not opened after {OPEN_LIMIT_S:.0f} s")
    await asyncio.sleep(1.5)  # every session has moved at least once: the window starts in steady state
    cpu0, gen0, idle0, window["start"] = cpu_seconds(pids), time.process_time(), idle_seconds(), time.perf_counter()
    await asyncio.sleep(window_s)
    window["end"] = time.perf_counter()
    r.server_cpu_s, r.generator_cpu_s = cpu_seconds(pids) - cpu0, time.process_time() - gen0
    r.machine_idle_s = idle_seconds() - idle0
    r.window_s = window["end"] - window["start"]
    r.rss_during_mb = rss_mb(pids)
    r.load_average = os.getloadavg()[0]
    stop.set()
    await asyncio.gather(*tasks)
    pool.shutdown()
    return r


def run_round(base: str, pids: list[int], n: int, window_s: float) -> Round:
    return run_async(_round(base, pids, n, window_s))


def settle(pids: list[int], seconds: float = 2.0, quiet: float = 0.05, limit: float = 60) -> None:
    """Until the servers use under `quiet` of a core over `seconds` (or `limit` passed): the last
    round's work is done before the next round's 'before' figures."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = cpu_seconds(pids)
        time.sleep(seconds)
        if cpu_seconds(pids) - before < quiet * seconds:
            return


def summary(r: Round) -> dict:
    moves = r.move_s
    return {
        "sessions": r.sessions,
        "moves": len(moves),
        "p50_s": statistics.median(moves) if moves else float("nan"),
        "p95_s": float(sorted(moves)[max(0, int(round(0.95 * len(moves))) - 1)]) if moves else float("nan"),
        "open_p50_s": statistics.median(r.open_s) if r.open_s else float("nan"),
        "open_max_s": max(r.open_s) if r.open_s else float("nan"),
        "errors": len(r.errors),
        "first_error": r.errors[0] if r.errors else "",
        "server_cpu_per_move_s": r.server_cpu_s / len(moves) if moves else float("nan"),
        "server_cores": r.server_cpu_s / r.window_s if r.window_s else float("nan"),
        "generator_cores": r.generator_cpu_s / r.window_s if r.window_s else float("nan"),
        "idle_cores": r.machine_idle_s / r.window_s if r.window_s else float("nan"),
        "mb_per_session": (r.rss_during_mb - r.rss_before_mb) / r.sessions,
        "rss_mb": r.rss_during_mb,
        "load_average": r.load_average,
    }


def servers_below(pid: int) -> list[int]:
    """The Streamlit (python) processes at or below pid: harness.streamlit_server runs them under timeout(1)."""
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        with contextlib.suppress(OSError):
            if "python" in Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace"):
                out.append(p)
            for task in Path(f"/proc/{p}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
    return out


def status_mb(pids: list[int], field: str) -> float:
    """A /proc/<pid>/status memory field (kB) summed over these processes (each alone), in MB."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, StopIteration):
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
            total += next(int(line.split()[1]) for line in status if line.startswith(field + ":")) / 1024
    return total


def rss_mb(pids: list[int]) -> float:
    """Resident memory of these processes (each alone, not its children), in MB."""
    return status_mb(pids, "VmRSS")


def private_mb(pids: list[int]) -> float:
    """Memory these processes hold alone (USS: private clean + dirty pages), in MB; shared libraries
    (torch's are about half the RSS) count once for the machine, not once per process."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith(("Private_Clean", "Private_Dirty")):
                    total += int(line.split()[1]) / 1024
    return total


def rounds(url: str, pids: list[int], counts: list[int], window_s: float) -> list[dict]:
    """One round per session count against the same warm servers, each after the last has settled."""
    out = []
    for n in counts:
        settle(pids)
        out.append(summary(run_round(url, pids, n, window_s)))
    return out


def warm(url: str, pids: list[int], sessions: int) -> None:
    """Every process has loaded the pair and drawn both pages once (a class arrives at a warm server)."""

    async def go():
        pool = ThreadPoolExecutor(max_workers=4)
        for _ in range(sessions):
            s = Session(url, pool)
            for attempt in range(3):  # a cold process on a loaded machine may miss a first deadline
                try:
                    await s.open()
                    await s.decoder()
                    await s.move()
                    break
                except Exception:  # LoadError, or a connection refused or reset
                    if attempt == 2:
                        raise
                finally:
                    await s.close()
        pool.shutdown()

    run_async(go())
    settle(pids)


def anon_mb(pids: list[int]) -> float:
    """Anonymous resident memory (RssAnon: the heap, not the mapped libraries, whose pages the kernel may
    drop and bring back at will), in MB."""
    return status_mb(pids, "RssAnon")


def memory_return(url: str, pids: list[int], n: int, cycles: int, pause: float) -> dict:
    """A warm process's heap idle, then `cycles` classes of n sessions (map, Decoder, three moves each)
    that come and close, `pause` s apart (longer than the reconnection window, so the next class's
    connections make Streamlit let the last one go), then one more tab and `pause` s: the heap after
    each class, and at the end."""
    warm(url, pids, 1)
    time.sleep(5)
    idle = anon_mb(pids)

    async def use(s: Session, moves: int):
        await s.open()
        await s.decoder()
        for _ in range(moves):
            await s.move()
        return s

    async def go():
        pool = ThreadPoolExecutor(max_workers=8)
        open_, after = [], []
        for _ in range(cycles):
            sessions = await asyncio.gather(*(use(Session(url, pool), 3) for _ in range(n)))
            open_.append(anon_mb(pids))
            for s in sessions:
                await s.close()
            await asyncio.sleep(pause)
            after.append(anon_mb(pids))
        await (await use(Session(url, pool), 1)).close()  # a later tab: the last class is let go
        await asyncio.sleep(pause)
        pool.shutdown()
        return open_, after, anon_mb(pids)

    open_, after, final = run_async(go())
    return {"idle_mb": idle, "open_mb": open_, "after_mb": after, "final_mb": final}


def memory_side_by_side(quick: bool) -> dict:
    """memory_return on two fresh servers, Streamlit's reconnection window shortened to 10 s so the
    bench need not wait its default 120 s: reclaim() every 10 s, and never (as before the fix)."""
    from bench.harness import streamlit_server

    n, cycles, pause = (2, 2, 12.0) if quick else (20, 3, 25.0)
    out = {"sessions": n, "cycles": cycles, "window_s": 10, "pause_s": pause}
    for label, every in (("reclaim", "10"), ("no_reclaim", "0")):
        info: dict = {}
        env = {"STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": "10", "LATENT_EXPLORER_RECLAIM_S": every}
        with streamlit_server(env=env, info=info, max_seconds=1800) as url:
            out[label] = memory_return(url, servers_below(info["pid"]), n, cycles, pause)
    return out


def measure(quick: bool) -> dict:
    """The load table: one process, then len(cores) processes behind HAProxy, at each session count;
    and the memory-return figure on a fresh process."""
    from bench.harness import free_port, streamlit_server
    from serve import balanced, find_haproxy

    counts, window = ([1, 2], 3.0) if quick else ([1, 10, 30, 60], 15.0)
    processes = max(2, os.cpu_count() or 1)
    out: dict = {"counts": counts, "window_s": window, "processes": processes, "cores": os.cpu_count()}
    info: dict = {}
    with streamlit_server(info=info, max_seconds=3600) as url:
        pids = servers_below(info["pid"])
        warm(url, pids, 1)
        out["idle_private_mb"] = private_mb(pids)
        out["idle_rss_mb"] = rss_mb(pids)
        out["one"] = rounds(url, pids, counts, window)
    if find_haproxy() is None:
        out["balanced"] = None  # said so in the row
    else:
        with balanced([free_port() for _ in range(processes)], free_port()) as (url, procs):
            pids = [p.pid for p in procs]
            warm(url, pids, 2 * processes)  # leastconn spreads the warm-up tabs over every process
            out["balanced"] = rounds(url, pids, counts, window)
    kept = _kept_memory() if os.environ.get("LATENT_EXPLORER_LOAD_MEMORY") == "keep" and not quick else None
    if kept is None:
        out["memory"], out["memory_measured_at"] = memory_side_by_side(quick), time.time()
    else:  # the rounds alone fit a 10-minute exclusive slot on a shared machine; the row says when this was measured
        out["memory"], out["memory_measured_at"] = kept
    out["load_average"] = os.getloadavg()
    return out


def _kept_memory() -> tuple[dict, float] | None:
    """The memory-return figures of the last full run (bench/load.json), and when they were measured."""
    import json

    try:
        last = json.loads(RESULTS.read_text())
        return last["memory"], float(last.get("memory_measured_at", last["measured_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


TARGET_RATIO = 3.0  # p95 at the largest class within 3x a lone session's p50
MEMORY_TARGET_MB = 50.0
HEADROOM = 0.7  # plan a core at 70% busy: queueing keeps p95 near p50 below that


def capacity(r: dict) -> dict:
    """Students one process and one machine hold, and what classes of 60 and 300 need, from the rounds.

    Measured: the largest session count whose p95 stayed within TARGET_RATIO of a lone session's p50
    with no error. Planned: HEADROOM of a core per process over the server CPU one student's move a
    second costs (the median over the rounds of 10 or more sessions), memory from the idle process
    (private pages) plus the RSS each session added."""
    lone = r["one"][0]["p50_s"]

    def held(results):
        ok = [x["sessions"] for x in results or [] if not x["errors"] and x["p95_s"] <= TARGET_RATIO * lone]
        return max(ok, default=0)

    busy = [x for x in r["one"] + (r["balanced"] or []) if x["sessions"] >= 10 and x["moves"]] or r["one"]
    per_move = statistics.median(x["server_cpu_per_move_s"] for x in busy)
    per_session_mb = max(0.0, statistics.median(x["mb_per_session"] for x in busy))
    per_process = int(HEADROOM / per_move)
    cores = r["cores"] or 1

    def plan(students: int) -> dict:
        processes = -(-students // per_process)
        return {
            "students": students,
            "processes": processes,
            "machines": -(-processes // cores),
            "memory_gb": (processes * r["idle_private_mb"] + students * per_session_mb) / 1024,
        }

    return {
        "lone_p50_s": lone,
        "held_one": held(r["one"]),
        "held_balanced": held(r["balanced"]),
        "cpu_per_move_s": per_move,
        "mb_per_session": per_session_mb,
        "per_process": per_process,
        "per_machine": per_process * cores,
        "plans": [plan(60), plan(300)],
    }


def demand_note(r: dict, c: dict) -> str:
    """What the largest class asks of the machine against what was idle while it was measured."""
    n = max(r["counts"])
    last = [x for k in ("one", "balanced") for x in r[k] or [] if x["sessions"] == n and "idle_cores" in x]
    if not last:
        return ""
    idle = ", ".join(f"{x['idle_cores']:.2f}" for x in last)
    return (
        f" {n} students moving once a second ask {n} x {1000 * c['cpu_per_move_s']:.0f} ms = "
        f"{n * c['cpu_per_move_s']:.2f} cores of server CPU, beside the generator's; while {n} were measured "
        f"(one process, then behind HAProxy) the machine had {idle} of its {r['cores']} cores idle."
    )


def capacity_table(r: dict) -> str:
    """The README's table ("For a class"), from bench/load.json."""
    c = capacity(r)
    rounds_ = {(x["sessions"], k): x for k in ("one", "balanced") for x in r[k] or []}
    lines = [
        f"| sessions | one process: p50 / p95 | {r['processes']} processes behind HAProxy: p50 / p95 | errors | "
        "server CPU a move | servers busy (cores) | memory a session |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in r["counts"]:
        one, bal = rounds_.get((n, "one")), rounds_.get((n, "balanced"))
        cell = lambda x: f"{x['p50_s']:.3f} s / {x['p95_s']:.3f} s" if x and x["moves"] else "-"  # noqa: E731
        errors = " + ".join(str(x["errors"]) for x in (one, bal) if x)
        cpu = statistics.median(x["server_cpu_per_move_s"] for x in (one, bal) if x and x["moves"])
        mb = statistics.median(x["mb_per_session"] for x in (one, bal) if x)
        busy = " / ".join(f"{x['server_cores']:.2f}" for x in (one, bal) if x)
        lines.append(f"| {n} | {cell(one)} | {cell(bal)} | {errors} | {1000 * cpu:.0f} ms | {busy} | {mb:.1f} MB |")
    plans = "; ".join(
        f"a class of {p['students']}: {p['processes']} processes on {p['machines']} {r['cores']}-core "
        f"machine{'s' if p['machines'] > 1 else ''}, {p['memory_gb']:.1f} GB"
        for p in c["plans"]
    )
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(r["measured_at"])) if "measured_at" in r else "-"
    return "\n".join(
        [
            *lines,
            "",
            f"Measured {when}, load average {r['load_average'][0]:.1f} on {r['cores']} cores (other work shared "
            f"the machine), the load generator on the same cores ({r['generator_cores_max']:.2f} of a core at most). "
            f"Within {TARGET_RATIO:.0f}x a lone session's p50 ({c['lone_p50_s']:.3f} s) with no error: "
            f"{c['held_one']} sessions on one process, {c['held_balanced']} on {r['processes']} behind HAProxy "
            f"(the most measured: {max(r['counts'])}). The servers were never busy more than "
            f"{max(x['server_cores'] for k in ('one', 'balanced') for x in r[k] or []):.2f} of the {r['cores']} "
            "cores: where times grow, the processes were waiting for a core the machine's other work held, not "
            "working, so these times measure that queue. The plan that follows depends on CPU time, not on "
            f"the queue. Planned at {HEADROOM:.0%} of a core: "
            f"{1000 * c['cpu_per_move_s']:.0f} ms of server CPU a move makes one process hold about "
            f"{c['per_process']} students moving a slider every second, a {r['cores']}-core machine "
            f"{c['per_machine']}; {plans}.{demand_note(r, c)}",
        ]
    )


RESULTS = Path(__file__).resolve().parent / "load.json"
README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN, END = "<!-- capacity table: python -m bench --only load writes it -->", "<!-- end of capacity table -->"


def readme_with_table(text: str, table: str) -> str:
    """README.md with the capacity table between its markers replaced."""
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError("README.md has no capacity table markers")
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def rows(quick: bool, row, results: dict) -> list[str]:
    """bench/__main__.py's rows. A full run also writes bench/load.json and the README's table from it."""
    import json

    r = measure(quick)
    r["measured_at"] = time.time()
    r["generator_cores_max"] = max(x["generator_cores"] for k in ("one", "balanced") for x in r[k] or [])
    results["load"] = r
    if not quick:
        RESULTS.write_text(json.dumps(r, indent=1) + "\n")
        README.write_text(readme_with_table(README.read_text(), capacity_table(r)))
    return rows_from(r, row)


def idle_note(x: dict, cores: int) -> str:
    """How much of the machine was idle during a round (rounds measured before this was recorded: nothing)."""
    return f"the machine had {x['idle_cores']:.2f} of {cores} cores idle; " if "idle_cores" in x else ""


def rows_from(r: dict, row) -> list[str]:
    """The load section's rows from measure()'s figures."""
    lone = r["one"][0]["p50_s"]
    out = []
    for key, label in (("one", "one process"), ("balanced", f"{r['processes']} processes behind HAProxy")):
        if r[key] is None:
            out.append(row(f"load: {label}", "not measured", "-", "HAProxy is not installed", None))
            continue
        for x in r[key]:
            largest = key == "balanced" and x["sessions"] == max(r["counts"])
            ok = not x["errors"] and x["p95_s"] <= TARGET_RATIO * lone
            out.append(
                row(
                    f"load: {x['sessions']} sessions, {label}, slider move → new image",
                    f"p50 {x['p50_s']:.3f} s, p95 {x['p95_s']:.3f} s",
                    f"no error, p95 ≤ {TARGET_RATIO:.0f}x lone p50" if largest else "-",
                    f"**{x['p95_s'] / lone:.1f}x** the lone p50 ({lone:.3f} s); {x['moves']} moves, "
                    f"{x['errors']} errors{': ' + x['first_error'] if x['errors'] else ''}; server CPU "
                    f"{1000 * x['server_cpu_per_move_s']:.0f} ms a move ({x['server_cores']:.2f} cores busy); "
                    f"{x['mb_per_session']:.1f} MB a session; map + Decoder opened in {x['open_p50_s']:.1f} s p50, "
                    f"{x['open_max_s']:.1f} s the last; the generator used {x['generator_cores']:.2f} of a core; "
                    + (idle_note(x, r["cores"]))
                    + f"load average {x['load_average']:.1f}",
                    ok if largest else None,
                    why=f"{x['sessions']} sessions and their load generator on {r['cores']} cores shared with "
                    f"other work (load average {x['load_average']:.1f}): the servers were busy "
                    f"{x['server_cores']:.2f} cores' worth; more cores (processes) close it",
                )
            )
    m = r["memory"]
    held = {k: m[k]["final_mb"] - m[k]["idle_mb"] for k in ("reclaim", "no_reclaim")}

    def classes(k: str) -> str:
        return ", ".join(f"{mb - m[k]['idle_mb']:+.1f}" for mb in m[k]["after_mb"])

    out.append(
        row(
            f"server heap after {m['cycles']} classes of {m['sessions']} sessions came and closed, over idle",
            f"{held['reclaim']:+.1f} MB",
            f"≤ {MEMORY_TARGET_MB:.0f} MB",
            f"without reclaim() (sessions frozen while open are never collected): **{held['no_reclaim']:+.1f} MB**; "
            f"after each class {classes('reclaim')} MB (without: {classes('no_reclaim')}); idle "
            f"{m['reclaim']['idle_mb']:.0f} MB anonymous RSS, "
            f"{m['reclaim']['open_mb'][0] - m['reclaim']['idle_mb']:+.1f} MB with the first class open; "
            f"Streamlit's reconnection window shortened to {m['window_s']} s"
            + (
                f"; measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(r['memory_measured_at']))}"
                if "memory_measured_at" in r
                else ""
            ),
            held["reclaim"] <= MEMORY_TARGET_MB,
        )
    )
    c = capacity(r)
    out.append(
        row(
            "students one process / one machine hold (a slider move a second each)",
            f"{c['per_process']} / {c['per_machine']}",
            "-",
            f"planned at {HEADROOM:.0%} of a core from {1000 * c['cpu_per_move_s']:.0f} ms of server CPU a move; "
            f"measured within {TARGET_RATIO:.0f}x: {c['held_one']} on one process, {c['held_balanced']} behind "
            f"HAProxy; "
            + "; ".join(
                f"{p['students']} students: {p['processes']} processes, {p['memory_gb']:.1f} GB" for p in c["plans"]
            ),
            None,
        )
    )
    return out
