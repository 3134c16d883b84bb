"""The only streamlit code: pages/, shared widgets and the cache wrappers."""

import gc
import time

_last_settled: float | None = None


def settle_garbage(every: float = 60.0) -> None:
    """Collect cyclic garbage, then freeze what survives (torch, plotly, the cached models and
    codes), at most once a minute. Without it, Python's full GC passes over those long-lived
    objects stalled about one slider move in five by 0.3-1 s (bench/: p95 0.40 s -> 0.13 s).
    Not on a fresh server's first run: the browser is still drawing its first map, and on two
    cores these 0.3 s of CPU would delay it; the next run settles."""
    global _last_settled
    now = time.monotonic()
    if _last_settled is None:
        _last_settled = now - every
        return
    if now - _last_settled >= every:
        _last_settled = now
        gc.collect()
        gc.freeze()
