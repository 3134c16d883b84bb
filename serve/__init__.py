"""A class on one machine or several: N Streamlit processes (one per core) behind HAProxy.

Streamlit keeps a session in the process that holds its websocket, and serves that session's images
(/media/...) and uploads from the same process, so the balancer must be sticky: HAProxy inserts a
cookie naming the process on the first response, and every later request of that browser (page,
websocket, images, uploads) goes where the cookie says. What two processes must both see (runs,
uploads) lives in folders they share: $LATENT_EXPLORER_RUNS and $LATENT_EXPLORER_UPLOADS.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HAPROXY_CANDIDATES = ("haproxy", "/usr/sbin/haproxy", "/usr/local/sbin/haproxy")
INSTALL_HINT = "HAProxy is not installed: `sudo apt-get install haproxy` (Debian/Ubuntu), then run this again"
COOKIE = "LE_SERVER"  # names the process a browser is stuck to


@dataclass(frozen=True)
class Backend:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Backend:
        """'host:port', as given on the command line; refused with its reason."""
        host, sep, port = text.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"a backend is host:port, got {text!r}")
        return cls(host, int(port))


def haproxy_config(backends: list[Backend], bind: str, port: int) -> str:
    """The whole haproxy.cfg for these Streamlit processes, on one machine or many."""
    servers = "\n".join(
        f"    server s{i} {b.host}:{b.port} check inter 2s fall 2 rise 1 cookie s{i}" for i, b in enumerate(backends, 1)
    )
    return f"""\
# Latent Explorer behind HAProxy, written by `python -m serve`. Sticky by cookie: a session's websocket,
# its images (/media) and its uploads must reach the Streamlit process that holds the session.
global
    maxconn 4096

defaults
    mode http
    option redispatch           # a process that is down: its browsers start a fresh session elsewhere
    retries 2
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout tunnel 4h           # an open websocket (a lesson); Streamlit pings it every 20 s

frontend latent_explorer
    bind {bind}:{port}
    default_backend streamlit

backend streamlit
    balance leastconn           # a new browser goes to the process with the fewest open connections
    cookie {COOKIE} insert indirect nocache httponly
    option httpchk
    http-check send meth GET uri /_stcore/health
    http-check expect status 200
    default-server init-addr libc,none  # a machine not up (or not in DNS) yet starts down, not fatal
{servers}
"""


def find_haproxy() -> str | None:
    for candidate in HAPROXY_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the launcher dies, even by SIGKILL (Linux prctl)."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_streamlit(address: str, port: int, env: dict[str, str] | None = None) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "app.py"),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, preexec_fn=_die_with_parent)


def start_haproxy(config: Path) -> subprocess.Popen:
    haproxy = find_haproxy()
    if haproxy is None:
        raise FileNotFoundError(INSTALL_HINT)
    # -db: stay in the foreground, so Ctrl-C and the launcher's stop reach it
    return subprocess.Popen([haproxy, "-db", "-f", str(config)], preexec_fn=_die_with_parent)


def check_haproxy_config(config: Path) -> str | None:
    """HAProxy's own check of a config file: None when valid, else its message."""
    haproxy = find_haproxy()
    if haproxy is None:
        return INSTALL_HINT
    done = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True, text=True)
    return None if done.returncode == 0 else (done.stderr + done.stdout).strip()


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    """Until url/_stcore/health answers 200; RuntimeError if the process ends or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the process ended with status {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url}: not healthy after {timeout:.0f} s")
        time.sleep(0.25)


def stop(procs: list[subprocess.Popen], grace: float = 10) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@contextlib.contextmanager
def balanced(ports: list[int], front: int, env: dict[str, str] | None = None, timeout: float = 300):
    """Streamlit processes on 127.0.0.1:ports behind HAProxy on 127.0.0.1:front (tests and bench/);
    yields the balancer's URL and the Streamlit processes; always stops everything."""
    procs = [start_streamlit("127.0.0.1", port, env) for port in ports]
    folder = tempfile.TemporaryDirectory(prefix="latent-explorer-haproxy-")
    try:
        for port, proc in zip(ports, procs):
            wait_healthy(f"http://127.0.0.1:{port}", proc, timeout)
        config = Path(folder.name) / "haproxy.cfg"
        config.write_text(haproxy_config([Backend("127.0.0.1", p) for p in ports], "127.0.0.1", front))
        problem = check_haproxy_config(config)
        if problem:
            raise RuntimeError(f"haproxy refused its config: {problem}")
        balancer = start_haproxy(config)
        procs.append(balancer)
        url = f"http://127.0.0.1:{front}"
        wait_healthy(url, balancer, 30)
        yield url, procs[:-1]
    finally:
        stop(procs)
        folder.cleanup()
