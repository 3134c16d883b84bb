"""The `onnx` section: bundled pairs exported as ONNX (training/onnxset.py) against the same models in torch,
side by side in one run, one thread each; and the Decoder slider on an imported ONNX pair against the floor."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import torch

from bench.compute import median, threads, timed
from training.store import BUNDLED, dataset_for, load_set

MODELS = {"MLP": "moons-sparse-2d", "conv": "mnist5k-16d"}  # the bundled MLP and conv pairs
TARGET = 1.5  # onnxruntime at most this many times torch's time


def _pair(name: str, out: Path):
    from training.onnxio import export_set

    ours = load_set(BUNDLED / name)
    theirs = load_set(export_set(BUNDLED / name, out / name))
    return ours["vae"].model, theirs["vae"].model, dataset_for(ours.lead.config).test.x


def speed(quick: bool) -> dict:
    """Per model: decode one latent (ms) and encode 10,000 test images (s), torch and onnxruntime."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp, threads(1), torch.no_grad():
        for label, name in MODELS.items():
            torch_vae, onnx_vae, test = _pair(name, Path(tmp))
            z1 = torch.zeros(1, torch_vae.latent_dim)
            x = test.repeat(-(-10_000 // len(test)), 1, 1, 1)[:10_000]  # (10,000, C, H, W)
            for who, model in (("torch", torch_vae), ("onnx", onnx_vae)):  # in turns: load hits both alike
                out[f"{label}_{who}_decode_ms"] = 1000 * median(timed(lambda: model.decode(z1), 50 if quick else 1000))
                out[f"{label}_{who}_encode_s"] = median(timed(lambda: model.encode(x), 1 if quick else 5, warmup=1))
    return out


def slider(quick: bool) -> dict:
    """Decoder slider p50 (Chromium) on digits-2d exported as ONNX and listed under runs/, against the floor."""
    from playwright.sync_api import sync_playwright

    from bench.browser import slider_latency
    from bench.harness import CHROMIUM_ARGS, ROOT, chromium_path, streamlit_server
    from training.onnxio import export_set

    n = 6 if quick else 30
    with tempfile.TemporaryDirectory() as runs:
        export_set(BUNDLED / "digits-2d", Path(runs) / "digits-2d-onnx")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            with (
                streamlit_server(ROOT / "bench" / "floor_app.py") as floor,
                streamlit_server(env={"LATENT_EXPLORER_RUNS": runs}) as app,
            ):
                path = "decoder?dataset=digits&pair=runs/digits-2d-onnx"
                floor_times = slider_latency(browser, floor, "", n)
                onnx_times = slider_latency(browser, app, path, n)
                torch_times = slider_latency(browser, app, "decoder?dataset=digits&pair=digits-2d", n)
            browser.close()
    return {"onnx_slider": onnx_times, "onnx_slider_floor": floor_times, "onnx_slider_torch": torch_times}


def rows(quick: bool, row, r: dict) -> list[str]:
    s = speed(quick)
    r.update(s)
    out = []
    for label in MODELS:
        dec = s[f"{label}_onnx_decode_ms"] / s[f"{label}_torch_decode_ms"]
        enc = s[f"{label}_onnx_encode_s"] / s[f"{label}_torch_encode_s"]
        out += [
            row(
                f"onnxruntime: decode one latent ({label} VAE, {MODELS[label]})",
                f"{s[f'{label}_onnx_decode_ms']:.3f} ms",
                f"≤ {TARGET}x torch",
                f"torch {s[f'{label}_torch_decode_ms']:.3f} ms: **{dec:.2f}x**; one thread each, median",
                dec <= TARGET,
            ),
            row(
                f"onnxruntime: encode 10,000 images ({label} VAE, {MODELS[label]})",
                f"{s[f'{label}_onnx_encode_s']:.3f} s",
                f"≤ {TARGET}x torch",
                f"torch {s[f'{label}_torch_encode_s']:.3f} s: **{enc:.2f}x**",
                enc <= TARGET,
            ),
        ]
    b = slider(quick)
    r.update(b)
    p50, floor, ours = (statistics.median(b[k]) for k in ("onnx_slider", "onnx_slider_floor", "onnx_slider_torch"))
    out.append(
        row(
            "Decoder slider → new image on an imported ONNX pair (Chromium), p50",
            f"{p50:.3f} s",
            "≤ 1.3x floor",
            f"floor (one-slider app) {floor:.3f} s: **{p50 / floor:.2f}x**; the same pair in torch (digits-2d) "
            f"{ours:.3f} s: {p50 / ours:.2f}x",
            p50 <= 1.3 * floor,
        )
    )
    return out
