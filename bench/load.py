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
import math
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


async def read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    """An HTTP/1.1 response's body after its headers: chunked, of Content-Length, or to the connection's end."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            chunks.append((await reader.readexactly(size + 2))[:-2])
        while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then the blank line
            pass
        return b"".join(chunks)
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    return await reader.read()


class Session:
    """One browser tab's worth of protocol: one websocket, its cookie, its page and widget state."""

    def __init__(self, base: str):
        self.base = base.rstrip("/")
        self.cookie = ""
        self.ws = None
        self.page_hash = ""
        self.query = QUERY
        self.sliders = Sliders()
        self.step = 0
        self.texts: list[str] | None = None  # a list: every element of the last run, as protobuf text
        self.http: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None  # kept alive, as a tab's

    async def get(self, path: str) -> bytes:
        """GET path over the tab's kept-alive HTTP/1.1 connection (asyncio: no thread per request), the
        balancer's cookie sent and kept. A connection the server closed meanwhile: once more on a new one."""
        for attempt in (0, 1):
            try:
                return await asyncio.wait_for(self._get(path), TIMEOUT_S)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                self._hang_up()
                if attempt:
                    raise LoadError(f"GET {path}: {type(exc).__name__}: {exc}") from exc
            except (OSError, asyncio.TimeoutError, ValueError, IndexError) as exc:
                self._hang_up()
                raise LoadError(f"GET {path}: {type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")

    async def _get(self, path: str) -> bytes:
        where = urlsplit(self.base)
        if self.http is None:
            self.http = await asyncio.open_connection(where.hostname, where.port)
        reader, writer = self.http
        cookie = f"Cookie: {self.cookie}\r\n" if self.cookie else ""
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {where.netloc}\r\n{cookie}\r\n".encode())
        await writer.drain()
        status = int((await reader.readuntil(b"\r\n")).split(b" ", 2)[1])
        headers, jar = {}, []
        while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value = value.strip()
            if name.strip().lower() == "set-cookie":
                jar.append(value.split(";", 1)[0])
        body = await read_body(reader, headers)
        if headers.get("connection", "").lower() == "close" or not (
            {"content-length", "transfer-encoding"} & set(headers)
        ):
            self._hang_up()
        if status != 200:
            raise LoadError(f"GET {path}: HTTP {status}")
        if jar:
            self.cookie = "; ".join(jar)
        return body

    def _hang_up(self) -> None:
        if self.http is not None:
            self.http[1].close()
            self.http = None

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
        self._hang_up()


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
    generator_lag_s: list[float] = field(default_factory=list)  # the client's event loop, late by (_lag)


async def _student(base: str, r: Round, opened: asyncio.Event, window: dict, stop: asyncio.Event, phase: float = 0.0):
    """Open the map and the Decoder page, then move z0 once a second (the next move waits for the last
    image, as a person waits to see it) until told to stop; moves inside the window are counted. phase
    (0-1 s) is when in each second this student moves: students do not move in step, while sessions that
    finished opening together would."""
    s = Session(base)
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
    window: dict = {}
    stop = asyncio.Event()
    events = [asyncio.Event() for _ in range(n)]
    phases = random.Random(n).random  # seeded: the same moments each run
    tasks = [asyncio.create_task(_student(base, r, e, window, stop, phases())) for e in events]
    waits = [asyncio.create_task(e.wait()) for e in events]
    _, late = await asyncio.wait(waits, timeout=OPEN_LIMIT_S)
    for task in late:  # still opening: measured as they are, and said
        task.cancel()
    if late:
        r.errors.append(f"{len(late)} sessions had not opened after {OPEN_LIMIT_S:.0f} s")
    await asyncio.sleep(1.5)  # every session has moved at least once: the window starts in steady state
    cpu0, gen0, idle0, window["start"] = cpu_seconds(pids), time.process_time(), idle_seconds(), time.perf_counter()
    probe = asyncio.create_task(_lag(r.generator_lag_s, window))
    await asyncio.sleep(window_s)
    window["end"] = time.perf_counter()
    await probe
    r.server_cpu_s, r.generator_cpu_s = cpu_seconds(pids) - cpu0, time.process_time() - gen0
    r.machine_idle_s = idle_seconds() - idle0
    r.window_s = window["end"] - window["start"]
    r.rss_during_mb = rss_mb(pids)
    r.load_average = os.getloadavg()[0]
    stop.set()
    await asyncio.gather(*tasks)
    return r


async def _lag(out: list[float], window: dict, every: float = 0.01) -> None:
    """The generator's own delay: how late its event loop wakes from a 10 ms sleep, through the window. A
    move's time includes this much of the client's queue (its messages wait while the loop serves others)."""
    while window.get("end") is None:
        t0 = time.perf_counter()
        await asyncio.sleep(every)
        out.append(max(0.0, time.perf_counter() - t0 - every))


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


def percentile(values: list[float], q: float) -> float:
    """The q-quantile as the value at rank round(q n) (the p95 of 900 moves: the 855th fastest); NaN if none."""
    return float(sorted(values)[max(0, int(round(q * len(values))) - 1)]) if values else float("nan")


def quantile_interval(values: list[float], q: float, z: float = 1.96) -> list[float]:
    """A 95% interval for the q-quantile, distribution-free: the values at ranks n q -/+ z sqrt(n q (1 - q))
    (order statistics, binomial normal approximation; 900 moves: the 842nd and 868th fastest for the p95)."""
    if not values:
        return [float("nan"), float("nan")]
    ordered, n = sorted(values), len(values)
    half = z * math.sqrt(n * q * (1 - q))
    lo, hi = max(1, math.floor(n * q - half)), min(n, math.ceil(n * q + half))
    return [float(ordered[lo - 1]), float(ordered[hi - 1])]


def summary(r: Round) -> dict:
    moves = r.move_s
    return {
        "sessions": r.sessions,
        "moves": len(moves),
        "p50_s": statistics.median(moves) if moves else float("nan"),
        "p95_s": percentile(moves, 0.95),
        "p95_ci_s": quantile_interval(moves, 0.95),
        "open_p50_s": statistics.median(r.open_s) if r.open_s else float("nan"),
        "open_max_s": max(r.open_s) if r.open_s else float("nan"),
        "errors": len(r.errors),
        "first_error": r.errors[0] if r.errors else "",
        "server_cpu_per_move_s": r.server_cpu_s / len(moves) if moves else float("nan"),
        "server_cores": r.server_cpu_s / r.window_s if r.window_s else float("nan"),
        "generator_cores": r.generator_cpu_s / r.window_s if r.window_s else float("nan"),
        "idle_cores": r.machine_idle_s / r.window_s if r.window_s else float("nan"),
        "generator_lag_p95_s": percentile(r.generator_lag_s, 0.95),
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
        for _ in range(sessions):
            s = Session(url)
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
        open_, after = [], []
        for _ in range(cycles):
            sessions = await asyncio.gather(*(use(Session(url), 3) for _ in range(n)))
            open_.append(anon_mb(pids))
            for s in sessions:
                await s.close()
            await asyncio.sleep(pause)
            after.append(anon_mb(pids))
        await (await use(Session(url), 1)).close()  # a later tab: the last class is let go
        await asyncio.sleep(pause)
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
    """The load table: one process, then one process per core behind HAProxy, at each session count, then
    one process more than cores at the classes of 30 and more (a process is one Python, one core at most:
    a move waits behind another in its process, never in another; a third on two cores trades that wait
    for the kernel's time slicing); and the memory-return figure on a fresh process."""
    from bench.harness import free_port, streamlit_server
    from serve import balanced, find_haproxy

    counts, window = ([1, 2], 3.0) if quick else ([1, 10, 30, 60], 15.0)
    processes = max(2, os.cpu_count() or 1)
    out: dict = {"counts": counts, "window_s": window, "processes": processes, "cores": os.cpu_count()}
    out["processes_more"] = processes + 1
    info: dict = {}
    with streamlit_server(info=info, max_seconds=3600) as url:
        pids = servers_below(info["pid"])
        warm(url, pids, 1)
        out["idle_private_mb"] = private_mb(pids)
        out["idle_rss_mb"] = rss_mb(pids)
        out["one"] = rounds(url, pids, counts, window)
    for key, n, classes in (("balanced", processes, counts), ("balanced_more", processes + 1, counts[-2:])):
        if find_haproxy() is None:
            out[key] = None  # said so in the row
            continue
        with balanced([free_port() for _ in range(n)], free_port()) as (url, procs):
            pids = [p.pid for p in procs]
            warm(url, pids, 2 * n)  # leastconn spreads the warm-up tabs over every process
            out[key] = rounds(url, pids, classes, window)
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

    busy = [x for k in LAYOUTS for x in r.get(k) or [] if x["sessions"] >= 10 and x["moves"]] or r["one"]
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
        "held_more": held(r.get("balanced_more")),
        "cpu_per_move_s": per_move,
        "mb_per_session": per_session_mb,
        "per_process": per_process,
        "per_machine": per_process * cores,
        "plans": [plan(60), plan(300)],
    }


def demand_note(r: dict, c: dict) -> str:
    """What the largest class asks of the machine against what was idle while it was measured."""
    n = max(r["counts"])
    last = [x for k in LAYOUTS for x in r.get(k) or [] if x["sessions"] == n and "idle_cores" in x]
    if not last:
        return ""
    idle = ", ".join(f"{x['idle_cores']:.2f}" for x in last)
    return (
        f" {n} students moving once a second ask {n} x {1000 * c['cpu_per_move_s']:.0f} ms = "
        f"{n * c['cpu_per_move_s']:.2f} cores of server CPU, beside the generator's; while {n} were measured "
        f"(one process, then each layout behind HAProxy) the machine had {idle} of its {r['cores']} cores idle."
    )


LAYOUTS = ("one", "balanced", "balanced_more")  # measure()'s layouts, in the table's order


def layouts(r: dict) -> list[tuple[str, str]]:
    """(key, label) of each layout in these figures (one measured before the third layout existed: two)."""
    labels = {
        "one": "one process",
        "balanced": f"{r['processes']} processes behind HAProxy",
        "balanced_more": f"{r.get('processes_more', r['processes'] + 1)} processes behind HAProxy",
    }
    return [(k, labels[k]) for k in LAYOUTS if k in r]


def interval(x: dict) -> tuple[float, float]:
    """A round's p95 with its 95% interval (order statistics); rounds recorded without one: the p95 alone."""
    lo, hi = x.get("p95_ci_s", (x["p95_s"], x["p95_s"]))
    return float(lo), float(hi)


def at_largest(r: dict) -> dict[str, dict]:
    """Each balancer layout's round at the largest class, by key."""
    n = max(r["counts"])
    return {k: x for k in LAYOUTS[1:] for x in r.get(k) or [] if x["sessions"] == n and x["moves"]}


def best_layout(r: dict) -> str | None:
    """The balancer's layout to keep, on which the target is judged: one process per core (what `make serve`
    starts) unless the other held the largest class clearly better (fewer errors, or a p95 whose 95% interval
    lies wholly below); None when HAProxy was missing."""
    at = at_largest(r)
    if "balanced" not in at or "balanced_more" not in at:
        return next(iter(at), None)
    one, more = at["balanced"], at["balanced_more"]
    if more["errors"] != one["errors"]:
        return "balanced_more" if more["errors"] < one["errors"] else "balanced"
    return "balanced_more" if interval(more)[1] < interval(one)[0] else "balanced"


def capacity_table(r: dict) -> str:
    """The README's table ("For a class"), from bench/load.json."""
    c = capacity(r)
    shown = layouts(r)
    rounds_ = {(x["sessions"], k): x for k, _ in shown for x in r[k] or []}
    lines = [
        "| sessions | "
        + " | ".join(f"{label}: p50 / p95" for _, label in shown)
        + " | errors | server CPU a move | servers busy (cores) | memory a session |",
        "|---" * (len(shown) + 5) + "|",
    ]
    for n in r["counts"]:
        xs = [rounds_.get((n, k)) for k, _ in shown]
        cell = lambda x: f"{x['p50_s']:.3f} s / {x['p95_s']:.3f} s" if x and x["moves"] else "-"  # noqa: E731
        errors = " + ".join(str(x["errors"]) for x in xs if x)
        cpu = statistics.median(x["server_cpu_per_move_s"] for x in xs if x and x["moves"])
        mb = statistics.median(x["mb_per_session"] for x in xs if x)
        busy = " / ".join(f"{x['server_cores']:.2f}" for x in xs if x)
        cells = " | ".join(cell(x) for x in xs)
        lines.append(f"| {n} | {cells} | {errors} | {1000 * cpu:.0f} ms | {busy} | {mb:.1f} MB |")
    plans = "; ".join(
        f"a class of {p['students']}: {p['processes']} process{'es' if p['processes'] > 1 else ''} on "
        f"{p['machines']} {r['cores']}-core "
        f"machine{'s' if p['machines'] > 1 else ''}, {p['memory_gb']:.1f} GB"
        for p in c["plans"]
    )
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(r["measured_at"])) if "measured_at" in r else "-"
    held = f"{c['held_one']} sessions on one process, {c['held_balanced']} on {r['processes']} behind HAProxy"
    if r.get("balanced_more") is not None:
        held += f", {c['held_more']} on {r['processes_more']}"
    kept = best_layout(r)
    caveat = lone_note(r, at_largest(r)[kept], dict(shown)[kept]) if kept in at_largest(r) else ""
    caveat = f" {caveat[0].upper()}{caveat[1:]}." if caveat else ""
    return "\n".join(
        [
            *lines,
            "",
            f"Measured {when}, load average {r['load_average'][0]:.1f} on {r['cores']} cores (other work shared "
            f"the machine), the load generator on the same cores ({r['generator_cores_max']:.2f} of a core at most). "
            f"Within {TARGET_RATIO:.0f}x a lone session's p50 ({c['lone_p50_s']:.3f} s) with no error: "
            f"{held} (the most measured: {max(r['counts'])}).{caveat}{layout_note(r)} {busy_note(r, shown)} "
            "The plan that follows depends on CPU time, not on the queue. "
            f"Planned at {HEADROOM:.0%} of a core: "
            f"{1000 * c['cpu_per_move_s']:.0f} ms of server CPU a move makes one process hold about "
            f"{c['per_process']} students moving a slider every second, a {r['cores']}-core machine "
            f"{c['per_machine']}; {plans}.{demand_note(r, c)}",
        ]
    )


def busy_note(r: dict, shown: list[tuple[str, str]]) -> str:
    """How busy the servers and the machine were: whether the slowest moves waited for CPU the machine lacked."""
    rounds_ = [x for k, _ in shown for x in r[k] or []]
    busiest = max(x["server_cores"] for x in rounds_)
    idle = [x["idle_cores"] for x in rounds_ if x["sessions"] == max(r["counts"]) and "idle_cores" in x]
    text = f"The servers were never busy more than {busiest:.2f} of the {r['cores']} cores"
    if idle and min(idle) >= 0.5:
        return (
            text + f", and the machine had {min(idle):.2f} or more idle while {max(r['counts'])} were measured: the "
            "slowest moves waited on something other than a machine short of CPU over the window (other moves in "
            "their process, whose Python runs one at a time, or a core busy for a moment; this bench does not tell "
            "which)."
        )
    return (
        text + ": where times grow, the processes were waiting for a core the machine's other work held, not "
        "working, so these times measure that queue."
    )


def layout_note(r: dict) -> str:
    """How the balancer's layouts compare at the largest class, with both p95s and their intervals (empty
    with one layout)."""
    at = at_largest(r)
    if len(at) < 2:
        return ""
    count = {"balanced": r["processes"], "balanced_more": r.get("processes_more")}
    one, more = at["balanced"], at["balanced_more"]

    def p95(x: dict) -> str:
        lo, hi = interval(x)
        return f"{x['p95_s']:.3f} s ({lo:.3f}-{hi:.3f}, {x['errors']} errors)"

    best = best_layout(r)
    n = max(r["counts"])
    if best == "balanced" and interval(one)[1] >= interval(more)[0] and one["errors"] == more["errors"]:
        verdict = f"no clear difference between {count['balanced']} and {count['balanced_more']} processes"
    else:
        verdict = f"{count[best]} processes did better"
    return (
        f" At {n} sessions, {verdict}: p95 {p95(one)} on {count['balanced']} against {p95(more)} on "
        f"{count['balanced_more']} (95% intervals); `make serve` keeps "
        + ("one process per core." if best == "balanced" else f"{count[best]} processes.")
    )


def lone_note(r: dict, x: dict, label: str) -> str:
    """When the lone session's p50 is not the fastest p50 measured (its moves reach a process idle since the
    last one; the cause is not measured here): the round x's p95 against the fastest p50 as well."""
    lone = r["one"][0]["p50_s"]
    fastest = min((y for k in LAYOUTS for y in r.get(k) or [] if y["moves"]), key=lambda y: y["p50_s"])
    if fastest["p50_s"] >= lone:
        return ""
    return (
        f"the lone p50 is above the busier rounds' (one student's moves reach a process idle since the last one): "
        f"against the fastest p50 measured ({fastest['p50_s']:.3f} s, {fastest['sessions']} sessions) the p95 of "
        f"{x['sessions']} sessions on {label} ({x['p95_s']:.3f} s) is {x['p95_s'] / fastest['p50_s']:.1f}x"
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
    r["generator_cores_max"] = max(x["generator_cores"] for k in LAYOUTS for x in r.get(k) or [])
    results["load"] = r
    if not quick:
        RESULTS.write_text(json.dumps(r, indent=1) + "\n")
        README.write_text(readme_with_table(README.read_text(), capacity_table(r)))
    return rows_from(r, row)


def idle_note(x: dict, cores: int) -> str:
    """How much of the machine was idle during a round (rounds measured before this was recorded: nothing)."""
    return f"the machine had {x['idle_cores']:.2f} of {cores} cores idle; " if "idle_cores" in x else ""


def missed_why(x: dict, label: str, lone: float, cores: int) -> str:
    """Why a round missed the target, from its own figures: where the cores went while it was measured."""
    busy = x["server_cores"] + x["generator_cores"]
    text = (
        f"{x['sessions']} sessions on {label}: the servers were busy {x['server_cores']:.2f} cores and the load "
        f"generator {x['generator_cores']:.2f}, {busy:.2f} of the machine's {cores}"
    )
    if "idle_cores" in x:
        other = max(0.0, cores - x["idle_cores"] - busy)
        text += f"; {x['idle_cores']:.2f} were idle and other work held {other:.2f}"
    return (
        text + f" (load average {x['load_average']:.1f}). A move costs {1000 * x['server_cpu_per_move_s']:.0f} ms "
        f"of CPU, so the p95 of {x['p95_s']:.3f} s (lone p50 {lone:.3f} s) is time a move waited for its "
        "process or for a core: more cores (processes) close it"
    )


def rows_from(r: dict, row) -> list[str]:
    """The load section's rows from measure()'s figures. The target is judged on the balancer's better
    layout at the largest class (best_layout): the one to keep."""
    lone = r["one"][0]["p50_s"]
    best = best_layout(r)
    out = []
    for key, label in layouts(r):
        if r[key] is None:
            out.append(row(f"load: {label}", "not measured", "-", "HAProxy is not installed", None))
            continue
        for x in r[key]:
            largest = key == best and x["sessions"] == max(r["counts"])
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
                    f"{x['open_max_s']:.1f} s the last; the generator used {x['generator_cores']:.2f} of a core"
                    + (
                        f" and its loop ran {1000 * x['generator_lag_p95_s']:.0f} ms late at p95"
                        if "generator_lag_p95_s" in x
                        else ""
                    )
                    + "; "
                    + (idle_note(x, r["cores"]))
                    + f"load average {x['load_average']:.1f}"
                    + ("; " + lone_note(r, x, label) if largest and lone_note(r, x, label) else ""),
                    ok if largest else None,
                    why=missed_why(x, label, lone, r["cores"]),
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
            f"measured within {TARGET_RATIO:.0f}x: {c['held_one']} on one process, {c['held_balanced']} on "
            f"{r['processes']} behind HAProxy"
            + (f", {c['held_more']} on {r['processes_more']}" if r.get("balanced_more") is not None else "")
            + "; "
            + "; ".join(
                f"{p['students']} students: {p['processes']} process{'es' if p['processes'] > 1 else ''}, "
                f"{p['memory_gb']:.1f} GB"
                for p in c["plans"]
            ),
            None,
        )
    )
    return out
