"""`python -m bench` (make bench): every hot path, measured side by side in one run.

Writes bench/results.md (machine, date, each figure with its comparison and target).
`--quick` runs tiny sizes (the test suite checks the benchmarks run this way).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECTIONS = [
    "compute",
    "training",
    "distributed",
    "umap",
    "browser",
    "startup",
    "memory",
    "inference",
    "tour",
    "load",
    "onnx",
    "runs",
    "workers",
    "long",
    "families",
    "hostile",
]


def machine() -> str:
    import numpy as np
    import torch

    cpu = "unknown CPU"
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    import os

    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, torch {torch.__version__}, "
        f"numpy {np.__version__}"
    )


# Sections whose module gives its rows: rows(quick, row, raw). runs: page-view CPU against the number
# of saved runs; workers: the slider while two runs train (issue 23).
ROWS_SECTIONS = {
    "load": "load",
    "onnx": "onnx",
    "runs": "runs_scale",
    "workers": "training_load",
    "long": "long_requests",
    "hostile": "hostile",  # the robustness table's peak memory of hostile inputs within the limits
    "families": "families",  # issue 28: each posterior family's training speed, the page's per-pick analysis
}
NOTES: list[str] = []  # why a target was missed, with this run's numbers


def row(path: str, measured: str, target: str, comparison: str, met: bool | None, why: str = "") -> str:
    verdict = "—" if met is None else ("met" if met else "**missed**")
    if met is False and why:
        NOTES.append(f"- **{path}**: {why}")
    return f"| {path} | {measured} | {target} | {comparison} | {verdict} |"


def run(sections: list[str], quick: bool) -> tuple[dict[str, tuple[list[str], list[str], float]], dict]:
    """Every section runs even if another fails; a failure becomes a row that says so.
    Returns each section's rows, its notes on missed targets and its seconds, and the raw figures."""
    out: dict[str, tuple[list[str], list[str], float]] = {}
    r: dict = {}
    for section in sections:
        started, first_note = time.perf_counter(), len(NOTES)
        try:
            new_rows, new = run_section(section, quick)
        except Exception as exc:  # a broken benchmark is reported, not hidden
            new_rows, new = (
                [row(f"{section} benchmarks", "failed", "-", f"{type(exc).__name__}: {str(exc)[:200]}", False)],
                {},
            )
        out[section] = (new_rows, NOTES[first_note:], time.perf_counter() - started)
        r.update(new)
    return out, r


def run_section(section: str, quick: bool) -> tuple[list[str], dict]:
    import numpy as np  # torch and the benchmarks load only once the arguments are parsed

    from bench import browser, compute, inference
    from bench import distributed as dist_bench
    from bench import tour as tour_bench

    sections = [section]
    r: dict = {}
    rows: list[str] = []
    if "compute" in sections:
        r.update(compute.decode_paths(quick))
        r.update(compute.encode_path(quick))
        r.update(compute.projection_paths(quick))
        rows += [
            row(
                "decode one latent (VAE, moons)",
                f"{r['decode_one_ms_1t']:.3f} ms",
                "≤ 1 ms",
                f"2 threads: {r['decode_one_ms_2t']:.3f} ms ({r['decode_one_ms_2t'] / r['decode_one_ms_1t']:.1f}x)",
                r["decode_one_ms_1t"] <= 1,
            ),
            row(
                "decode a 64x64 hole-map grid",
                f"{r['decode_grid_s_1t'] * 1000:.1f} ms",
                "≤ 0.5 s",
                f"2 threads: {r['decode_grid_s_2t'] * 1000:.1f} ms; with the distances to 1,000 true renders "
                f"(the whole hole map): {r['hole_map_s_1t']:.3f} s",
                r["decode_grid_s_1t"] <= 0.5,
            ),
            row(
                "encode 10,000 images",
                f"{r['encode_10k_s_1t']:.3f} s",
                "≤ 1 s",
                f"2 threads: {r['encode_10k_s_2t']:.3f} s",
                r["encode_10k_s_1t"] <= 1,
            ),
            row("PCA of 10,000 codes (16-D)", f"{r['pca_10k_s']:.3f} s", "≤ 0.5 s", "", r["pca_10k_s"] <= 0.5),
        ]
    if "training" in sections:
        r.update(compute.training_paths(quick))
        ratio = r["fit_samples_per_s_1t"] / r["textbook_samples_per_s_1t"]
        eff = r["fit_flops_1t"] / r["matmul_flops_1t"]
        rows += [
            row(
                "training throughput, fit() vs a per-item Dataset + DataLoader",
                f"{r['fit_samples_per_s_1t']:,.0f} samples/s",
                "≥ 1.5x",
                f"textbook loop {r['textbook_samples_per_s_1t']:,.0f} samples/s: **{ratio:.2f}x**; "
                f"the DataLoader loop with fit()'s loss and fused Adam: {r['loader_our_step_samples_per_s_1t']:,.0f}; "
                f"2 threads: fit {r['fit_samples_per_s_2t']:,.0f}, textbook {r['textbook_samples_per_s_2t']:,.0f}",
                ratio >= 1.5,
                why="the per-item DataLoader costs little with in-memory tensors: the same DataLoader loop with "
                "fit()'s "
                f"loss and fused Adam runs at {r['loader_our_step_samples_per_s_1t']:,.0f} samples/s, within a few "
                "percent of "
                "fit(). fit()'s lead comes from the training step (a vectorised Bernoulli NLL instead of "
                "log_sigmoid, which "
                "took a quarter of each step in the torch profiler, and fused Adam), and run-to-run noise on this "
                "shared "
                "machine moves the ratio by about ±0.05. Closing it for sure would take a cheaper step still (e.g. "
                "torch.compile, whose start-up cost outweighs runs this short).",
            ),
            row(
                "training compute efficiency (model FLOP/s in fit() / torch.mm FLOP/s)",
                f"{r['fit_flops_1t'] / 1e9:.2f} GFLOP/s",
                "≥ 40%",
                f"torch.mm 1024² on 1 thread: {r['matmul_flops_1t'] / 1e9:.1f} GFLOP/s: **{eff:.0%}**; "
                f"2 threads: {r['fit_flops_2t'] / r['matmul_flops_2t']:.0%} of {r['matmul_flops_2t'] / 1e9:.1f}",
                eff >= 0.4,
            ),
            row(
                "thread count for fit(), with the other core busy",
                f"1 thread: {r['fit_loaded_samples_per_s_1t']:,.0f} samples/s",
                "the faster one is the default",
                f"2 threads: {r['fit_loaded_samples_per_s_2t']:,.0f} samples/s "
                f"({r['fit_loaded_samples_per_s_2t'] / r['fit_loaded_samples_per_s_1t']:.2f}x of 1 thread); on an idle "
                f"machine 2 threads give {r['fit_samples_per_s_2t'] / r['fit_samples_per_s_1t']:.2f}x. Default: 1 "
                "thread "
                "(the app and `train --threads`)",
                None,
            ),
        ]
    rows += [row(*cells, None) for cells in dist_bench.section(quick, r)] if "distributed" in sections else []
    rows += (
        [row(*cells[:4], cells[4] if len(cells) > 4 else None, *cells[5:]) for cells in tour_bench.section(quick, r)]
        if "tour" in sections
        else []
    )
    if "umap" in sections:
        r.update(compute.cached_projection(quick))
        r.update(browser.umap_fresh(quick))
        rows += [
            row(
                "UMAP of 10,000 codes, fresh process, numba cache warm",
                f"{r['umap_warm_fit_s']:.1f} s (+ import {r['umap_warm_import_s']:.1f} s)",
                "≤ 30 s",
                f"first ever (empty numba cache): fit {r['umap_cold_fit_s']:.1f} s + import "
                f"{r['umap_cold_import_s']:.1f} s; "
                "UMAP is imported only when a user runs it, never on the first page",
                r["umap_warm_fit_s"] <= 30,
            ),
            row(
                "UMAP when cached (st.cache_resource)",
                f"{r['umap_cached_s'] * 1000:.2f} ms",
                "≤ 0.2 s",
                f"first call in the process: {r['umap_in_process_first_s']:.1f} s",
                r["umap_cached_s"] <= 0.2,
            ),
        ]
    if "browser" in sections:
        s = browser.slider_paths(quick)
        floor, frag, full = (statistics.median(s[k]) for k in ("slider_floor", "slider_fragment", "slider_full_rerun"))
        p95 = browser.percentile(s["slider_fragment"], 95)
        r.update({k: v for k, v in s.items()})
        rows += [
            row(
                "slider released → new decoded image (Chromium), p50",
                f"{frag:.3f} s",
                "≤ 1.3x floor",
                f"floor (one-slider app): {floor:.3f} s: **{frag / floor:.2f}x**",
                frag <= 1.3 * floor,
            ),
            row("… p95", f"{p95:.3f} s", "≤ 2x floor", f"**{p95 / floor:.2f}x** the floor's p50", p95 <= 2 * floor),
            row(
                "… against rerunning the whole page",
                f"{frag:.3f} s",
                "≥ 3x faster",
                f"whole-script rerun p50 {full:.3f} s: **{full / frag:.2f}x**",
                full >= 3 * frag,
                why=f"the fragment already answers at the floor ({frag:.3f} s against {floor:.3f} s), and the rest "
                "of the "
                f"decoder page (sidebar, traversal grids) adds only {full - frag:.3f} s when it reruns. A 3x ratio "
                "would "
                f"need the whole page to take {3 * frag:.2f} s, i.e. about {3 * frag - frag:.2f} s of work outside the "
                "fragment; the page has no such work to skip. The fragment keeps the slider at the floor however "
                "heavy the "
                "rest of the page grows.",
            ),
        ]
        click = statistics.median(s["map_click"])
        rows.append(
            row(
                "map click → reconstructions (Chromium), p50",
                f"{click:.3f} s",
                "≤ 1.5x slider p50",
                f"decoder slider p50 {frag:.3f} s: **{click / frag:.2f}x**; p95 "
                f"{browser.percentile(s['map_click'], 95):.3f} s; the server sent "
                f"{statistics.median(s['map_click_bytes']) / 1000:.1f} kB per click (p50, websocket frames)",
                click <= 1.5 * frag,
            )
        )
        d = browser.drag_frames(quick)
        r.update(d)
        interval = float(np.median(d["frame_intervals_ms"])) if d["frame_intervals_ms"] else float("inf")
        decode = float(np.median(d["decode_ms"])) if d["decode_ms"] else float("inf")
        rows += [
            row(
                "drag to decode: frame interval while the pointer moves, p50",
                f"{interval:.1f} ms ({1000 / interval:.0f} frames/s)",
                "≤ 33 ms",
                f"{d['frames']} frames drawn for {d['moves']} pointer events ({d['pointer_events_per_s']:.0f}/s); "
                "frames are drawn once per animation frame (requestAnimationFrame), so 60 Hz is the ceiling",
                interval <= 33,
            ),
            row(
                "drag to decode: in-browser decode of the default MLP, p50",
                f"{decode:.3f} ms",
                "≤ 2 ms",
                f"max {max(d['decode_ms']):.3f} ms",
                decode <= 2,
            ),
        ]
    if "startup" in sections:
        r.update(browser.startup(quick))
        ratio = r["startup_s"] / r["startup_floor_s"]
        rows.append(
            row(
                "`streamlit run app.py` to a drawn latent map",
                f"{r['startup_s']:.1f} s",
                "≤ 1.3x floor",
                f"floor (fresh process importing torch and plotly, one chart): {r['startup_floor_s']:.1f} s: "
                f"**{ratio:.2f}x**; fresh server processes, bundled defaults, Chromium, median of "
                f"{len(r['startup_runs'])}",
                ratio <= 1.3,
            )
        )
    if "memory" in sections:
        m = browser.memory_60k(quick)
        r.update(m)
        rows.append(
            row(
                f"app memory with a {m['images']:,}-image dataset loaded",
                f"{m['rss_60k_mb']:.0f} MB RSS",
                "≤ 1.5 GB",
                "server process after the latent map and decoder pages",
                m["rss_60k_mb"] <= 1536,
            )
        )
    if "inference" in sections:
        rows += inference.rows(quick, row, r)
    if section in ROWS_SECTIONS:  # modules whose rows(quick, row, raw) gives their table rows
        import importlib

        rows += importlib.import_module(f"bench.{ROWS_SECTIONS[section]}").rows(quick, row, r)
    return rows, r


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that every benchmark runs")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.md"))
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        print(f"error: unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(1)  # what the app and trainer use; each benchmark sets 2 where it compares
    from bench import report

    done, _raw = run(sections, args.quick)
    out = Path(args.out)
    blocks = {
        name: report.section_block(name, rows, notes, seconds, machine(), args.quick)
        for name, (rows, notes, seconds) in done.items()
    }
    text = report.merge(out.read_text() if out.exists() else None, blocks, SECTIONS)
    out.write_text(text)
    print("\n".join(blocks.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
