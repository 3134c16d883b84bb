"""The only streamlit code: pages/, shared widgets and the cache wrappers."""

import gc
import time

_last_settled = 0.0


def settle_garbage(every: float = 60.0) -> None:
    """Collect cyclic garbage, then freeze what survives (torch, plotly, the cached models and
    codes), at most once a minute. Without it, Python's full GC passes over those long-lived
    objects stalled about one slider move in five by 0.3-1 s (bench/: p95 0.40 s -> 0.13 s).
    It runs on a full run only (fragments skip app.py), so the first run settles: deferring it to
    the next cost the slider p95 0.54 s, since a page may never fully rerun again (bench, this machine)."""
    global _last_settled
    now = time.monotonic()
    if now - _last_settled >= every:
        _last_settled = now
        gc.collect()
        gc.freeze()
