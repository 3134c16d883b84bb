"""Peak memory of hostile inputs within the limits (issue 13, README's robustness table): each case of
tests/test_hardening.py's RSS_CASES run in a fresh interpreter, its peak RSS above the set-up (Linux VmHWM,
reset after the imports), against the case's budget; the test asserts the same budgets."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from bench.harness import ROOT

PAIR = ROOT / "checkpoints" / "moons-sparse-2d"  # the checkpoint case's pair, its sidecar made to ask for 8 x 4,096


def peak_memory() -> dict[str, dict]:
    from tests.test_hardening import RSS_CASES, peak_rss

    out = {}
    for case, (setup, work, expected, budget_mb) in RSS_CASES.items():
        with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
            if case == "checkpoint-4096x8":
                shutil.copytree(PAIR, Path(tmp) / "pair")
                sidecar = json.loads((Path(tmp) / "pair" / "vae.json").read_text())
                sidecar["model"].update(hidden=[4096] * 8, in_shape=[3, 128, 128])
                (Path(tmp) / "pair" / "vae.json").write_text(json.dumps(sidecar))
            result = peak_rss(setup, work, Path(tmp))
        out[case] = {**result, "expected": expected, "budget_mb": budget_mb}
    return out


def rows(quick: bool, row, raw: dict) -> list[str]:
    r = peak_memory()
    raw["hostile_peak_memory"] = r
    lines = []
    for case, m in r.items():
        outcome = m["outcome"].split(":")[0]
        lines.append(
            row(
                f"hostile input peak memory: {case}",
                f"{m['delta_mb']:.1f} MB",
                f"≤ {m['budget_mb']:,} MB, {m['expected']}",
                f"{outcome}, fresh process, peak RSS above its set-up",
                m["delta_mb"] < m["budget_mb"] and m["outcome"].startswith(m["expected"]),
            )
        )
    return lines
