"""Shared by the browser test, the screenshot script and the benchmarks: a Streamlit server on
127.0.0.1 that stops itself, and Debian's Chromium driven by playwright."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from serve import wait_healthy

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def free_port() -> int:
    """A port free on 127.0.0.1: any, or one of $LATENT_EXPLORER_PORTS ("8640-8679") on a machine whose
        users share out port ranges. Taken ports are skipped; ones handed out already come last (a server
    given one may not have bound it yet)."""
    span = os.environ.get("LATENT_EXPLORER_PORTS", "")
    lo, _, hi = span.partition("-")
    ports = range(int(lo), int(hi) + 1) if lo.isdigit() and hi.isdigit() else [0]
    candidates = sorted(ports, key=lambda p: p in _GIVEN)
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            _GIVEN.add(s.getsockname()[1])
            return s.getsockname()[1]
    raise RuntimeError(f"no free port in LATENT_EXPLORER_PORTS={span}")


_GIVEN: set[int] = set()


@contextlib.contextmanager
def streamlit_server(
    script: str | Path = ROOT / "app.py",
    timeout: float = 60,
    max_seconds: float = 900,
    env: dict[str, str] | None = None,
    info: dict | None = None,
):
    """Start `streamlit run script` on 127.0.0.1; yield its URL; always stop it.

    max_seconds bounds the server's life even if this process dies (timeout(1) kills it).
    env adds environment variables; info, if given, receives the wrapper's "pid".
    """
    port = free_port()
    cmd = [
        "timeout",
        str(int(max_seconds)),
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    # Screenshots and timings wait for a page's finished drawing: its long requests computed in the script's
    # thread (explorer/offload.py, inline) unless env asks for worker processes, as `make run` has them.
    env = {"LATENT_EXPLORER_LONG": "inline", **os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if info is not None:
        info["pid"] = proc.pid
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_healthy(url, proc, timeout)
        except RuntimeError as exc:
            output = proc.stdout.read().decode(errors="replace") if proc.stdout and proc.poll() is not None else ""
            raise RuntimeError(f"streamlit did not start ({exc}):\n{output[-3000:]}") from exc
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_for_app(page, timeout_ms: float = 60_000) -> None:
    """Wait until the script has finished running (no 'running' status) and content exists."""
    page.wait_for_selector('[data-testid="stMain"]', timeout=timeout_ms)
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"]')
               && document.querySelectorAll('[data-testid="stMainBlockContainer"] *').length > 10""",
        timeout=timeout_ms,
    )


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB (Linux /proc)."""
    total, stack = 0.0, [pid]
    while stack:
        p = stack.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")) / 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total
