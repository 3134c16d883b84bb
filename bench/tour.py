"""The tour's step render times after the first (AppTest, the bundled moons-sparse-2d pair): target < 1 s."""

from __future__ import annotations

import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 1.0


def step_times(lang: str = "en") -> dict[int, float]:
    """Seconds per step, each rerun after the whole tour was walked once (the caches warm)."""
    from streamlit.testing.v1 import AppTest

    from explorer.tour import STEPS

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.query_params.update({"lang": lang, "dataset": "moons", "pair": "moons-sparse-2d"})
    at.run()
    at.switch_page("explorer/ui/pages/tour.py").run()
    for step in range(1, STEPS + 1):  # the first visit fills the caches
        at.session_state["step"] = step
        at.run()
    times = {}
    for step in range(1, STEPS + 1):
        at.session_state["step"] = step
        start = time.perf_counter()
        at.run()
        times[step] = time.perf_counter() - start
        assert not at.exception, (step, at.exception)
    return times


def section(quick: bool, raw: dict) -> list[tuple[str, str, str, str]]:
    """Table rows (path, measured, target, side by side); the raw numbers go into raw."""
    times = step_times()
    raw["tour_step_s"] = times
    worst = max(times, key=times.get)
    measured = f"worst step {worst}: {times[worst]:.2f} s; median {sorted(times.values())[len(times) // 2]:.2f} s"
    detail = ", ".join(f"{s}: {v:.2f}" for s, v in times.items())
    return [("tour step render after the first (AppTest)", measured, f"< {TARGET_S:g} s", detail)]


if __name__ == "__main__":
    for step, seconds in step_times().items():
        print(f"step {step}: {seconds:.2f} s")
