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

    s = Session("http://127.0.0.1:1", pool=None)
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
