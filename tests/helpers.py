"""Helpers shared by test modules (fixtures live in conftest.py). Test modules import from here,
never from each other."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")

# Pair ids of the tiny pairs conftest's `app` fixture puts under $LATENT_EXPLORER_RUNS.
TINY_MOONS, TINY_DIGITS = "runs/tiny-moons", "runs/tiny-digits"


def open_app(page: str | None = None, **params):
    """AppTest of app.py with these query parameters, switched to `page`; fails on any error shown."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(params)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def image_with_caption(at, prefix: str):
    found = [im for im in at.image if any(c.startswith(prefix) for c in im.captions)]
    assert len(found) == 1, [im.captions for im in at.image]
    return found[0]


def run_cli(*args: str, module: str = "training", process: bool = False) -> subprocess.CompletedProcess:
    """`python -m <module> args`: in this process by default (no second torch import, ~0.1 s instead
    of several), or as a real child process with process=True. Same result type either way."""
    if process:
        return subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=600,
        )
    import importlib

    main = importlib.import_module(f"{module}.__main__").main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse refusals exit 2 after printing usage
            code = exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess([module, *args], code, out.getvalue(), err.getvalue())


def wait(job, seconds=120):
    """A background run (training.jobs), once its thread has ended."""
    job.thread.join(seconds)
    assert not job.thread.is_alive()
    return job


def tiny_run(epochs=2, n_test=8, **data):
    """A RunConfig that trains and saves a small moons pair in under a second. Its 8 test images keep
    the save's exact log p(x) (quadrature, ~0.1 s an image on an untrained 2-D VAE) cheap."""
    from training.config import DataConfig, ModelConfig, RunConfig, TrainConfig

    return RunConfig(
        DataConfig("moons", regime="sparse", n_train=128, n_test=n_test, image_size=16, **data),
        ModelConfig(latent_dim=2, hidden=(16,)),
        TrainConfig(epochs=epochs, batch_size=32),
    )


def zip_with(entries) -> bytes:
    """A zip archive of (name or ZipInfo, data) entries."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for info, data in entries:
            z.writestr(info, data)
    return buf.getvalue()


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


# Browser: the src and caption of the image captioned 'VAE decodes …'; both change when the image does.
DECODED = """() => {
    for (const cap of document.querySelectorAll('[data-testid="stImageCaption"]')) {
        if (!cap.textContent.startsWith('VAE decodes')) continue;
        let box = cap.parentElement;
        while (box && !box.querySelector('img')) box = box.parentElement;
        if (box) return box.querySelector('img').src + '|' + cap.textContent;
    }
    return null;
}"""
