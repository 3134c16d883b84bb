"""The benchmarks run (tiny sizes): `make bench` measures; the test suite only checks they work."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_bench(tmp_path, sections: str) -> str:
    out = tmp_path / "results.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", sections, "--out", str(out)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out.read_text()


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
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "nope", "--out", str(tmp_path / "r.md")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "unknown sections" in done.stderr
