"""The benchmarks run (tiny sizes): `make bench` measures; the test suite only checks they work."""

import pytest

from tests.helpers import run_cli


def run_bench(tmp_path, sections: str) -> str:
    out = tmp_path / "results.md"
    done = run_cli("--quick", "--only", sections, "--out", str(out), module="bench", process=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return out.read_text()


@pytest.mark.slow
def test_compute_and_training_benchmarks_run(tmp_path):
    text = run_bench(tmp_path, "compute,training")
    for path in (
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
