"""The benchmarks run (tiny sizes): `make bench` measures; the test suite only checks they work."""

import re

import pytest

from tests.helpers import run_cli


def run_bench(tmp_path, sections: str) -> str:
    out = tmp_path / "results.md"
    done = run_cli("--quick", "--only", sections, "--out", str(out), module="bench", process=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return out.read_text()


@pytest.mark.slow
def test_compute_and_training_benchmarks_run(tmp_path):
    text = run_bench(tmp_path, "compute,training,families")
    for path in (
        "training samples/s, flow against diag",
        "training samples/s, iwae50 against diag",
        "Inference page: every family for one pick",
        "decode one latent",
        "64x64 hole-map grid",
        "encode 10,000 images",
        "PCA of 10,000 codes",
        "training throughput",
        "compute efficiency",
        "thread count",
    ):
        assert path in text
    assert "Machine:" in text


@pytest.mark.browser
@pytest.mark.slow
def test_browser_benchmarks_run(tmp_path):
    text = run_bench(tmp_path, "browser,startup")
    for path in (
        "slider released",
        "against rerunning the whole page",
        "frame interval",
        "in-browser decode",
        "to a drawn latent map",
    ):
        assert path in text


@pytest.mark.slow
def test_umap_and_memory_benchmarks_run(tmp_path):
    text = run_bench(tmp_path, "umap,memory")
    assert "UMAP of 10,000 codes" in text and "app memory" in text


@pytest.mark.slow
def test_the_runs_index_benchmark_runs(tmp_path):
    text = run_bench(tmp_path, "runs")
    assert "server CPU per Train page view, 30 saved runs vs 3" in text and "run-list poll" in text


def test_unknown_section_is_refused(tmp_path):
    done = run_cli("--only", "nope", "--out", str(tmp_path / "r.md"), module="bench")
    assert done.returncode == 2 and "unknown sections" in done.stderr


def test_a_partial_run_keeps_every_other_sections_block():
    from bench.report import EARLIER, merge, section_block

    legacy = (
        "# Benchmarks\n\n`make bench`, 2026-11-27.\n\n| path | measured | target | side by side | verdict |\n"
        "|---|---|---|---|---|\n| a | 1 s | ≤ 2 s |  | met |\n| b | 3 s | ≤ 2 s |  | **missed** |\n\n"
        "Why the missed targets were missed, and what would close them:\n\n- **b**: slow disk\n"
    )
    b_again = section_block("two", ["| b | 1 s | ≤ 2 s |  | met |"], [], 1.0, "test machine", quick=True)
    text = merge(legacy, {"two": b_again}, ["one", "two"])
    assert f"## {EARLIER}" in text and "| a | 1 s" in text  # kept
    assert "| b | 3 s" not in text and "slow disk" not in text  # measured again: the new row only
    assert text.count("| b |") == 1 and "load average" in text
    one = section_block("one", ["| a | 0.5 s | ≤ 2 s |  | met |"], ["- **a**: why"], 1.0, "m", quick=False)
    text = merge(text, {"one": one}, ["one", "two"])
    assert EARLIER not in text  # every row it held was measured again
    assert text.index("## one") < text.index("## two") and "| b | 1 s" in text and "- **a**: why" in text
    assert merge(text, {}, ["one", "two"]) == text  # stable


def fake_load_results(p95_60: float = 0.2) -> dict:
    """bench/load.measure()'s shape, with made-up figures."""

    def rnd(n, p95, errors=0):
        return {
            "sessions": n, "moves": 20 * n, "p50_s": 0.05, "p95_s": p95, "open_p50_s": 1.0, "open_max_s": 2.0,
            "errors": errors, "first_error": "boom" if errors else "", "server_cpu_per_move_s": 0.02,
            "server_cores": 0.02 * n, "generator_cores": 0.1, "mb_per_session": 0.5, "rss_mb": 1000.0,
            "load_average": 3.0, "idle_cores": 0.25,
        }  # fmt: skip

    memory = {"idle_mb": 400.0, "open_mb": [420.0], "after_mb": [405.0, 406.0], "final_mb": 404.0}
    return {
        "counts": [1, 10, 60], "window_s": 20, "processes": 2, "cores": 2, "idle_private_mb": 500.0,
        "one": [rnd(1, 0.06), rnd(10, 0.1), rnd(60, 0.9, errors=2)],
        "balanced": [rnd(1, 0.06), rnd(10, 0.08), rnd(60, p95_60)],
        "memory": {"sessions": 20, "cycles": 2, "window_s": 10, "pause_s": 25,
                   "reclaim": memory, "no_reclaim": {**memory, "final_mb": 430.0}},
        "load_average": (3.0, 2.0, 1.0), "measured_at": 0.0, "generator_cores_max": 0.1,
    }  # fmt: skip


@pytest.mark.parametrize(
    "caption, body, error",
    [
        ("VAE decodes (0.15, 1.00)", b"\xff\xd8\xff\xe0 a JPEG", None),
        ("VAE decodes (0.00, 1.00)", b"\xff\xd8\xff\xe0 a JPEG", "a stale image: sent (0.15, 1.00)"),  # the last code
        ("VAE decodes (0.15, 1.00)", b"<html>not found</html>", "neither a JPEG nor a PNG"),
    ],
)
def test_a_load_move_counts_only_the_new_image(caption, body, error):
    """The load client's move: z0 goes one step (5 x 0.03) and the image drawn must name that code."""
    from bench.load import LoadError, Session, Sliders, run_async

    s = Session("http://127.0.0.1:1")
    s.sliders = Sliders({"z0": "w0", "z1": "w1"}, {"z0": 0.0, "z1": 1.0}, {"z0": (-3, 3, 0.03), "z1": (-3, 3, 0.03)})
    sent = []

    async def rerun(msg=None, page_name=None):
        sent.append([w.double_array_value.data[0] for w in msg.rerun_script.widget_states.widgets])
        return [("AE: z0 down", "/media/a.jpg"), (caption, "/media/b.jpg")]

    async def get(path):
        return body

    s.rerun, s.get = rerun, get
    if error is None:
        assert run_async(s.move()) >= 0
    else:
        with pytest.raises(LoadError, match=re.escape(error)):
            run_async(s.move())
    assert sent == [[pytest.approx(0.15), 1.0]]


@pytest.mark.parametrize("p95_60, met", [(0.12, True), (0.2, False)])
def test_load_rows_give_the_verdict_and_the_capacity(p95_60, met):
    from bench.__main__ import row
    from bench.load import capacity, capacity_table, rows_from

    r = fake_load_results(p95_60)
    rows = rows_from(r, row)
    target = next(line for line in rows if line.startswith("| load: 60 sessions, 2 processes"))
    assert target.endswith("| met |" if met else "| **missed** |")
    assert "2 errors: boom" in next(line for line in rows if line.startswith("| load: 60 sessions, one process"))
    c = capacity(r)
    assert c["held_one"] == 10 and c["held_balanced"] == (60 if met else 10)
    assert c["per_process"] == 35 and c["per_machine"] == 70  # 0.7 of a core / 20 ms a move
    assert [p["processes"] for p in c["plans"]] == [2, 9] and [p["machines"] for p in c["plans"]] == [1, 5]
    assert "+4.0 MB" in next(line for line in rows if "heap after" in line) and "+30.0 MB" in rows[-2]
    table = capacity_table(r)
    assert table.count("\n| ") == 3 and "a class of 300: 9 processes on 5 2-core machines" in table
    assert "60 students moving once a second ask 60 x 20 ms = 1.20 cores" in table and "0.25, 0.25 of its 2" in table
    assert "the machine had 0.25 of 2 cores idle" in target


@pytest.mark.parametrize(
    "p95_more, interval, kept, words",
    [
        (0.2, None, "balanced", "2 processes did better"),
        (0.1, None, "balanced_more", "3 processes did better"),
        (0.15, (0.12, 0.19), "balanced", "no clear difference between 2 and 3 processes"),  # lower, not clearly
    ],
)
def test_the_target_is_judged_on_the_balancer_layout_that_held_the_class_better(p95_more, interval, kept, words):
    """Two layouts behind HAProxy (processes = cores, and one more): one per core is kept unless the other
    held 60 sessions clearly better; the kept one carries the verdict, the table gives both, and a miss says
    where the cores went."""
    from bench.__main__ import NOTES, row
    from bench.load import best_layout, capacity, capacity_table, rows_from

    r = fake_load_results(0.12)
    more = [dict(x, p95_s=p95_more) | ({"p95_ci_s": list(interval)} if interval else {}) for x in r["balanced"][-2:]]
    r |= {"processes_more": 3, "balanced_more": more}
    r["balanced"][-1] |= {"p95_s": 0.16, "p95_ci_s": [0.14, 0.18]}  # 3.2x the lone p50: a miss
    r["balanced"][1]["p50_s"] = 0.04  # 10 sessions answered faster than the lone one
    assert best_layout(r) == kept
    notes = len(NOTES)
    rows = rows_from(r, row)
    judged = [line for line in rows if "p95 ≤ 3x" in line]
    label = "3 processes" if kept == "balanced_more" else "2 processes"
    assert len(judged) == 1 and judged[0].startswith(f"| load: 60 sessions, {label}")
    assert judged[0].endswith("| met |" if kept == "balanced_more" else "| **missed** |")
    p95 = 0.1 if kept == "balanced_more" else 0.16
    assert f"against the fastest p50 measured (0.040 s, 10 sessions) the p95 of 60 sessions on {label}" in judged[0]
    assert f"({p95:.3f} s) is {p95 / 0.04:.1f}x" in judged[0]
    if kept == "balanced":
        why = NOTES[notes]
        assert "servers were busy 1.20 cores and the load generator 0.10, 1.30 of the machine's 2" in why
        assert "0.25 were idle and other work held 0.45 (load average 3.0)" in why
    assert capacity(r)["held_more"] == (60 if p95_more <= 0.15 else 0)  # within 3x the lone 0.05 s, or none
    table = capacity_table(r)
    assert "| 3 processes behind HAProxy: p50 / p95 |" in table and "| 60 | 0.050 s / 0.900 s | " in table
    more_text = f"{p95_more:.3f} s ({(interval or (p95_more,))[0]:.3f}-{(interval or (p95_more,))[-1]:.3f}, 0 errors)"
    assert f"At 60 sessions, {words}: p95 0.160 s (0.140-0.180, 0 errors) on 2 against {more_text} on 3" in table


def test_the_readme_capacity_table_is_the_one_bench_load_json_makes():
    import json

    from bench.load import BEGIN, END, README, RESULTS, capacity_table, readme_with_table

    text = README.read_text()
    assert BEGIN in text and END in text
    assert readme_with_table(text, capacity_table(json.loads(RESULTS.read_text()))) == text


@pytest.mark.browser
@pytest.mark.slow
def test_onnx_benchmarks_run(tmp_path):
    text = run_bench(tmp_path, "onnx")
    for path in ("onnxruntime: decode one latent (MLP", "encode 10,000 images (conv", "imported ONNX pair"):
        assert path in text
    assert "failed" not in text


@pytest.mark.browser
@pytest.mark.slow
def test_tour_benchmark_runs(tmp_path):
    text = run_bench(tmp_path, "tour")
    assert "tour step render after the first (AppTest)" in text
    assert "tour step change in Chromium" in text and "Decoder slider" in text
