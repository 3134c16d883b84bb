"""1 process vs 2 processes (torchrun, gloo) training the same VAE, and a scaling estimate for GPUs.

`section(quick)` launches `torchrun --nproc_per_node=1` and `=2` on moons and on a 60,000-image set
(synthetic uniform tensors, 1x28x28: the throughput does not depend on what the pixels show), each
running fit() through `python -m bench.distributed` (the worker below). The 2-process launch also
measures, separately, the compute of one step on a rank's shard (no DDP) and one all-reduce of the
gradients' bytes, which is what DDP adds per step. The GPU rows are an ESTIMATE from those bytes.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
BATCH = 128  # global batch, as in fit()'s default
SETS = ("moons", "synthetic-60k")

# Published interconnect figures the estimate assumes (nccl-tests style bus bandwidth; latency per all-reduce).
LINKS = {
    "8 GPUs, one node (NVLink/NVSwitch, A100)": {"gpus": 8, "bus_gbs": 230.0, "latency_us": 15.0},
    "2 x 8 GPUs (InfiniBand HDR 200 Gb/s per node)": {"gpus": 16, "bus_gbs": 25.0, "latency_us": 40.0},
}
GPU_FLOPS = 10e12  # achieved FP32 FLOP/s of a small model's matmuls on an A100 (about half its 19.5 TFLOP/s peak)
STEP_OVERHEAD_S = 300e-6  # eager PyTorch launch cost of one training step of these models on a GPU (~40 kernels)


# --- the worker (runs under torchrun) ------------------------------------------------------------


def make_set(name: str, quick: bool):
    from training.config import DataConfig
    from training.datasets import Dataset, Split, load_dataset

    if name == "moons":
        return load_dataset(DataConfig("moons", n_train=1000 if quick else 4000, n_test=200))
    n = 4_000 if quick else 60_000
    g = torch.Generator().manual_seed(0)
    train, test = torch.rand(n, 1, 28, 28, generator=g), torch.rand(1000, 1, 28, 28, generator=g)
    return Dataset(name, "uniform noise images (throughput only)", Split(train), Split(test))


def run_config(dataset_name: str, epochs: int, family: str = "mlp"):
    from training.config import DataConfig, ModelConfig, RunConfig, TrainConfig

    return RunConfig(
        DataConfig("moons" if dataset_name == "moons" else "npz"),
        ModelConfig(kind="vae", family=family, hidden=(128, 64) if family == "mlp" else (128,)),
        TrainConfig(epochs=epochs, batch_size=BATCH, device="cpu", threads=1),
    )


def step_seconds(config, x: torch.Tensor, repeat: int) -> float:
    """Median time of one training step (forward, backward, Adam) on x, without DDP."""
    from training.fit import make_optimizer
    from training.losses import loss_terms
    from training.models import build_model

    model = build_model(config.model)
    optimizer = make_optimizer(model, 1e-3)
    times = []
    for i in range(repeat + 3):
        t0 = time.perf_counter()
        terms = loss_terms(model(x), x, "bernoulli", 1.0)
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        optimizer.step()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def allreduce_seconds(n_params: int, repeat: int) -> float:
    """Median time of one all-reduce of n_params float32 values: DDP's gradient exchange per step."""
    import torch.distributed as dist

    grads = torch.zeros(n_params)
    times = []
    for i in range(repeat + 3):
        dist.barrier()
        t0 = time.perf_counter()
        dist.all_reduce(grads)
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def worker(name: str, quick: bool) -> None:
    from training import distributed
    from training.fit import fit, with_data_shape

    w = distributed.world()
    dataset = make_set(name, quick)
    epochs = 1 if quick or name != "moons" else 5
    config = with_data_shape(run_config(name, epochs), dataset)
    result = fit(config, dataset, progress_bar=False)
    n_params = sum(p.numel() for p in result.model.parameters())
    repeat = 10 if quick else 50
    out = {
        "world": w.world_size,
        "samples_per_s": result.samples_per_second,
        "params": n_params,
        "compute_s": step_seconds(result.config, dataset.train.x[: BATCH // w.world_size], repeat),
    }
    if w.distributed:
        out["allreduce_s"] = allreduce_seconds(n_params, repeat)
    if w.main:
        print("RESULT " + json.dumps(out), flush=True)


# --- the section (runs in `python -m bench`) ----------------------------------------------------


def launch(name: str, nproc: int, quick: bool) -> dict:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    command += ["-m", "bench.distributed", "--set", name] + (["--quick"] if quick else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"torchrun {nproc} x {name} failed: {done.stderr.strip()[-300:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def flops_per_sample(family: str) -> tuple[int, int]:
    """(training FLOPs per sample, parameters) of the moons-sized (28x28) VAE of a family, counted by torch."""
    from torch.utils.flop_counter import FlopCounterMode

    from training.losses import loss_terms
    from training.models import build_model

    config = run_config("moons", 1, family).model
    config.in_shape = (1, 28, 28)
    model = build_model(config)
    x = torch.rand(BATCH, 1, 28, 28)
    with FlopCounterMode(display=False) as counter:
        loss_terms(model(x), x, "bernoulli", 1.0).total.backward()
    return counter.get_total_flops() // BATCH, sum(p.numel() for p in model.parameters())


def estimate(flops: int, params: int, link: dict, batch: int = BATCH) -> tuple[float, int, float]:
    """(efficiency at a per-GPU batch, the per-GPU batch for 80 %, all-reduce microseconds), assuming
    no overlap of the all-reduce with backward (one 25 MB DDP bucket holds these models whole):
    t_ar = latency + 2 (W-1)/W * bytes / bus bandwidth (ring), t_step(b) = overhead + b * FLOPs / rate,
    efficiency = t_step / (t_step + t_ar). A pair trains its two models one after the other."""
    w = link["gpus"]
    t_ar = link["latency_us"] * 1e-6 + 2 * (w - 1) / w * 4 * params / (link["bus_gbs"] * 1e9)
    t_step = STEP_OVERHEAD_S + batch * flops / GPU_FLOPS
    need = max(0.0, 4 * t_ar - STEP_OVERHEAD_S)  # t_step >= 4 t_ar  <=>  efficiency >= 80 %
    enough = math.ceil(need * GPU_FLOPS / flops) if need else 1
    return t_step / (t_step + t_ar), enough, t_ar * 1e6


def section(quick: bool, raw: dict) -> list[tuple[str, str, str, str]]:
    """Table rows (path, measured, target, side by side); the raw numbers go into raw."""
    rows = []
    load = os.getloadavg()[0]
    for name in SETS:
        one, two = launch(name, 1, quick), launch(name, 2, quick)
        eff = two["samples_per_s"] / (2 * one["samples_per_s"])
        predicted = (BATCH / (two["compute_s"] + two["allreduce_s"])) / (2 * BATCH / one["compute_s"])
        raw.update({f"dist_{name}_1": one, f"dist_{name}_2": two, f"dist_{name}_efficiency": eff})
        rows.append(
            (
                f"training, 1 vs 2 processes (torchrun, gloo, CPU), {name}",
                f"{two['samples_per_s']:,.0f} samples/s (2 processes)",
                "—",
                f"1 process: {one['samples_per_s']:,.0f} samples/s: scaling efficiency **{eff:.0%}** "
                f"({two['samples_per_s'] / one['samples_per_s']:.2f}x). Per step, measured separately: "
                f"a rank's compute on its {BATCH // 2} rows {two['compute_s'] * 1e3:.2f} ms (one process on all "
                f"{BATCH}: {one['compute_s'] * 1e3:.2f} ms), one all-reduce of the {two['params'] * 4 / 1e3:,.0f} kB "
                f"of gradients {two['allreduce_s'] * 1e3:.2f} ms; these predict {predicted:.0%}. Load average "
                f"{load:.1f} on {os.cpu_count()} cores when measured",
            )
        )
    for family in ("mlp", "conv"):
        flops, params = flops_per_sample(family)
        for where, link in LINKS.items():
            eff, batch, t_ar = estimate(flops, params, link)
            raw[f"estimate_{family}_{link['gpus']}"] = {"efficiency": eff, "batch_for_80": batch, "allreduce_us": t_ar}
            enough = f"from {batch:,} per GPU ({batch * link['gpus']:,} global)" if batch > 1 else "at any batch"
            rows.append(
                (
                    f"ESTIMATE (not measured): {family} VAE, {where}",
                    f"{eff:.0%} at 128 per GPU",
                    "≥ 80 %",
                    f"{params * 4 / 1e6:.2f} MB of gradients per step -> all-reduce {t_ar:.0f} µs; "
                    f"{flops / 1e6:.1f} MFLOP per sample and step; ≥ 80 % {enough}. Assumes "
                    f"{link['bus_gbs']:.0f} GB/s bus bandwidth, {link['latency_us']:.0f} µs all-reduce latency, "
                    f"{GPU_FLOPS / 1e12:.0f} TFLOP/s achieved, {STEP_OVERHEAD_S * 1e6:.0f} µs launch cost per step "
                    "(bench/distributed.py)",
                )
            )
    return rows


if __name__ == "__main__":
    import argparse

    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(prog="python -m bench.distributed", description="worker; run under torchrun")
    parser.add_argument("--set", choices=SETS, required=True)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    worker(args.set, args.quick)
