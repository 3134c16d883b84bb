"""The only streamlit code: pages/, shared widgets and the cache wrappers."""

import ctypes
import gc
import os
import threading
import time

_last_settled = 0.0
_ran_since_reclaim = threading.Event()  # a script ran: sessions may have come and gone
_housekeeper: threading.Thread | None = None
_lock = threading.Lock()


def settle_garbage(every: float = 60.0) -> None:
    """Collect cyclic garbage, then freeze what survives (torch, plotly, the cached models and
    codes), at most once a minute. Without it, Python's full GC passes over those long-lived
    objects stalled about one slider move in five by 0.3-1 s (bench/: p95 0.40 s -> 0.13 s).
    It runs on a full run only (fragments skip app.py), so the first run settles: deferring it to
    the next cost the slider p95 0.54 s, since a page may never fully rerun again (bench, this machine).
    What it freezes includes the sessions open at that moment; reclaim() lets them go once closed."""
    global _last_settled
    _ran_since_reclaim.set()
    now = time.monotonic()
    if now - _last_settled >= every:
        _last_settled = now
        with _lock:
            gc.collect()
            gc.freeze()
    start_housekeeping()


def _malloc_trim() -> None:
    """Give the C heap's free pages back to the system (glibc); elsewhere nothing to do."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def reclaim() -> None:
    """Collect everything, frozen objects included, then freeze again and trim the C heap.

    Frozen objects are never collected, so a session frozen while open (see settle_garbage) kept its
    cyclic objects once closed, and glibc kept the pages freed by the rest. bench/ (3 classes of 20
    sessions coming and closing): without this the heap never shrank after a class (+21, +27, +27 MB
    over idle), with it +14, +18, +21 MB. The full collection takes 0.3-0.4 s on this machine, so it
    runs in the background at most every LATENT_EXPLORER_RECLAIM_S seconds (default 120, the time
    Streamlit keeps a closed session for its tab to reconnect), and only after scripts ran."""
    with _lock:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        _malloc_trim()


def _housekeep(period: float) -> None:
    if period <= 0:  # LATENT_EXPLORER_RECLAIM_S=0: never (bench/ measures the difference)
        return
    while True:
        time.sleep(period)
        if _ran_since_reclaim.is_set():
            _ran_since_reclaim.clear()
            reclaim()


def start_housekeeping() -> None:
    """One background reclaimer per server process (daemon: it ends with the process)."""
    global _housekeeper
    if _housekeeper is None:
        period = float(os.environ.get("LATENT_EXPLORER_RECLAIM_S", "120"))
        _housekeeper = threading.Thread(target=_housekeep, args=(period,), name="reclaim", daemon=True)
        _housekeeper.start()
