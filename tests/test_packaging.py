"""`pip install .` gives a usable tool: the wheel carries the pages, JS, catalogues and bundled sets, and
`latent-explorer` runs from outside the source tree.

The wheel is built from a copy of the tracked files (the source tree gets no build/ or .egg-info), then
installed without its dependencies into a fresh virtual environment that sees the project's packages
through a .pth file (`venv --system-site-packages` would give the base interpreter's, not the venv's):
nothing is downloaded."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT


def _run(*cmd, cwd, timeout=600):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv's bin folder, the wheel) after building and installing the wheel."""
    tmp = tmp_path_factory.mktemp("package")
    source = tmp / "source"
    files = _run("git", "ls-files", "-z", cwd=ROOT).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    built = _run(
        sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-w", tmp / "dist", cwd=source
    )
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((tmp / "dist").glob("latent_explorer-*.whl"))
    venv = tmp / "venv"
    made = _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    own = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp).stdout.strip()
    (Path(own) / "project-venv.pth").write_text("\n".join(site.getsitepackages()) + "\n")  # torch & co, after our own
    done = _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel, cwd=tmp)
    assert done.returncode == 0, done.stderr[-2000:]
    return venv / "bin", wheel


@pytest.mark.slow
def test_the_wheel_carries_pages_scripts_catalogues_and_bundled_sets(installed):
    _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "app.py",
        "explorer/ui/pages/latent_map.py",
        "explorer/ui/drag.js",
        "explorer/ui/drag.css",
        "explorer/ui/icon.png",
        "explorer/i18n/zh.po",
        "checkpoints/moons-sparse-2d/vae.safetensors",
        "checkpoints/digits-8d/ae.json",
        "lab/results.json",
        "training/onnxset.py",
    ):
        assert needed in names, needed
    assert not any(n.startswith("tests/") for n in names)
    metadata = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Requires-Dist: torch" in text and 'Requires-Dist: onnxruntime>=1.18; extra == "onnx"' in text


@pytest.mark.slow
def test_latent_explorer_runs_from_outside_the_source_tree(installed, tmp_path):
    bin_dir, _ = installed
    where = _run(bin_dir / "python", "-c", "import training; print(training.__file__)", cwd=tmp_path)
    assert str(bin_dir.parent) in where.stdout, where  # the installed copy, not the source tree
    helped = _run(bin_dir / "latent-explorer", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    for command in ("serve", "train", "eval", "lab", "import-onnx", "import-embeddings", "export-onnx"):
        assert command in helped.stdout
    measured = _run(bin_dir / "latent-explorer", "eval", "digits-8d", "--iwae-k", "5", cwd=tmp_path)
    assert measured.returncode == 0, measured.stderr[-2000:]
    assert measured.stdout.splitlines()[0].strip().startswith("AE  recon BCE")
    assert "active units" in measured.stdout
    refused = _run(bin_dir / "latent-explorer", "eval", "no-such-set", cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.startswith("error:")
    assert not (tmp_path / "runs").exists()  # eval writes nothing
