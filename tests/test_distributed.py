"""Devices, precision and torchrun: sharding maths, the autocast/scaler plumbing, one-line errors,
and (slow) real `torchrun --nproc_per_node=2` launches on gloo: equivalence with one process, a killed rank."""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.helpers import open_app, run_cli, tiny_run, wait
from training import distributed
from training.__main__ import main
from training.config import PRECISIONS, TrainConfig
from training.devices import Amp, OnDevice, Streamed, float32, resolve_device, resolve_precision
from training.errors import LatentExplorerError, TrainingError
from training.fit import fit, make_optimizer
from training.models import Output, Posterior
from training.runs import train_and_save
from training.store import load_set

ROOT = Path(__file__).resolve().parent.parent
CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA device (CI has none)")
# 321 training images in global batches of 64: the last batch has 1 row, so rank 1 gets none of it
SMALL = "--dataset moons --n-train 321 --n-test 100 --image-size 16 --hidden 32,16 --batch-size 64 --lr 3e-3 --quiet"


# --- sharding maths -----------------------------------------------------------------------------


@pytest.mark.parametrize("world_size", [1, 2, 3, 8])
@pytest.mark.parametrize("n", [1, 7, 64, 65])
def test_shards_cover_the_global_batch_once_and_weigh_to_its_mean(n, world_size):
    worlds = [distributed.World(r, world_size) for r in range(world_size)]
    parts = [distributed.shard(n, w) for w in worlds]
    assert [i for p in parts for i in range(p.start, p.stop)] == list(range(n))
    sizes = [p.stop - p.start for p in parts]
    assert max(sizes) - min(sizes) <= 1
    # DDP averages the ranks' gradients: (1/W) sum_r weight_r * mean_r must be the global mean
    per_sample = torch.rand(n, dtype=torch.float64)
    ddp = sum(
        distributed.loss_weight(s, n, w) * (per_sample[p].mean() if s else 0) for s, p, w in zip(sizes, parts, worlds)
    )
    assert float(ddp / world_size) == pytest.approx(float(per_sample.mean()), rel=1e-12)


def test_every_rank_plans_its_own_rows_of_each_global_batch():
    order = torch.randperm(130, generator=torch.Generator().manual_seed(0))
    plans = [distributed.epoch_plan(order, 64, distributed.World(r, 2)) for r in range(2)]
    assert plans[0].sizes == plans[1].sizes == [64, 64, 2]
    for step, start in enumerate(range(0, 130, 64)):
        rows = torch.cat([p.rows[slice(*p.bounds[step])] for p in plans])
        assert torch.equal(rows, order[start : start + 64])


def test_world_comes_from_the_torchrun_environment(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    w = distributed.world()
    assert (w.rank, w.world_size, w.local_rank, w.main, w.distributed) == (1, 4, 1, False, True)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(TrainingError, match="bad torchrun environment"):
        distributed.world()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(TrainingError, match="whole numbers"):
        distributed.world()


def test_config_validates_devices_and_precisions():
    for device in ("auto", "cpu", "cuda", "cuda:1", "mps"):
        TrainConfig(device=device).validate()
    for precision in PRECISIONS:
        TrainConfig(precision=precision).validate()
    for bad in (TrainConfig(device="gpu"), TrainConfig(device="cuda:"), TrainConfig(precision="8")):
        with pytest.raises(LatentExplorerError):
            bad.validate()


# --- devices and precision on this machine ------------------------------------------------------


@pytest.mark.skipif(CUDA, reason="checks the error a machine without CUDA gives")
def test_no_cuda_gives_one_clear_error_and_auto_falls_back_to_cpu():
    assert resolve_device("auto") == (torch.device("cpu"), "auto: PyTorch sees no CUDA device")
    for name in ("cuda", "cuda:0"):
        with pytest.raises(TrainingError, match="no CUDA device; use --device cpu"):
            resolve_device(name)


def test_float16_needs_cuda_and_bfloat16_runs_on_cpu():
    with pytest.raises(TrainingError, match="--precision 16 needs a CUDA device"):
        resolve_precision("16", torch.device("cpu"))
    amp = resolve_precision("bf16", torch.device("cpu"))
    assert amp.dtype == torch.bfloat16 and not amp.scaler.is_enabled()
    assert not resolve_precision("32", torch.device("cpu")).scaler.is_enabled()


def one_step(amp: Amp, scale_loss: float = 1.0) -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    optimizer = make_optimizer(model, 1e-2)
    x = torch.randn(16, 8, generator=torch.Generator().manual_seed(1))
    with amp.autocast():
        loss = model(x).float().pow(2).mean() * scale_loss
    amp.step(loss, optimizer)
    return model


def test_grad_scaler_plumbing_gives_the_unscaled_step_and_skips_overflow():
    plain = one_step(Amp("32", "cpu", None, torch.amp.GradScaler("cpu", enabled=False)))
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16)
    scaled = one_step(Amp("16", "cpu", None, scaler))
    for p, q in zip(plain.parameters(), scaled.parameters()):
        assert torch.equal(p, q)  # a power-of-two scale is undone exactly
    assert scaler.get_scale() == 2.0**16
    torch.manual_seed(0)
    untouched = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    overflow = torch.amp.GradScaler("cpu", init_scale=2.0**16)
    skipped = one_step(Amp("16", "cpu", None, overflow), scale_loss=float("inf"))
    for p, q in zip(untouched.parameters(), skipped.parameters()):
        assert torch.equal(p, q)  # inf gradients: the step is skipped
    assert overflow.get_scale() == 2.0**15


@pytest.mark.slow
def test_bf16_autocast_trains_and_keeps_float32_weights(tiny_config, tiny_moons, tmp_path):
    config = dataclasses.replace(tiny_config, train=dataclasses.replace(tiny_config.train, precision="bf16", epochs=4))
    amp = resolve_precision("bf16", torch.device("cpu"))
    with amp.autocast():
        logits = torch.nn.Linear(4, 3)(torch.randn(2, 4))
    assert logits.dtype == torch.bfloat16
    out = float32(Output(logits, logits, Posterior(logits, None)))
    assert out.logits.dtype == out.posterior.mean.dtype == torch.float32

    results = train_and_save(config, tmp_path / "bf16", dataset=tiny_moons, progress_bar=False, iwae_k=2)
    for kind, result in results.items():
        history = result.history
        assert history[-1]["train_total"] < history[0]["train_total"]
        assert all(p.dtype == torch.float32 for p in result.model.parameters())
        sidecar = json.loads((tmp_path / "bf16" / f"{kind}.json").read_text())
        assert (sidecar["train"]["precision"], sidecar["train"]["device"]) == ("bf16", "cpu")
        assert sidecar["train"]["world_size"] == 1
        assert {t.dtype for t in load_file(tmp_path / "bf16" / f"{kind}.safetensors").values()} == {torch.float32}
    load_set(tmp_path / "bf16")


def test_streamed_and_on_device_data_give_the_same_batches():
    x = torch.rand(50, 1, 4, 4)
    rows = torch.randperm(50)
    bounds = [(0, 16), (16, 32), (32, 50)]
    a = list(OnDevice(x, torch.device("cpu")).batches(rows, bounds))
    b = list(Streamed(x, torch.device("cpu")).batches(rows, bounds))
    for (xa, sa), (xb, sb) in zip(a, b):
        assert sa == sb and torch.equal(xa, xb) and torch.equal(xa, x[rows[sa]])


# --- the command line: one line, exit 2, nothing written ----------------------------------------


@pytest.mark.parametrize(
    "flags, message",
    [
        pytest.param(
            ["--device", "cuda"],
            "no CUDA device",
            marks=pytest.mark.skipif(CUDA, reason="checks the error a machine without CUDA gives"),
        ),
        (["--precision", "16", "--device", "cpu"], "--precision 16 needs a CUDA device"),
        (["--device", "tpu"], "device must be one of"),
    ],
)
def test_cli_device_and_precision_errors_are_one_line(flags, message, tmp_path):
    done = run_cli("train", *SMALL.split(), "--epochs", "1", "--out", str(tmp_path / "run"), *flags)
    code, err = done.returncode, done.stderr.strip()
    assert code == 2
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_cli_batch_that_does_not_divide_among_ranks_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")  # checked before any process group is joined
    done = run_cli("train", *SMALL.split(), "--batch-size", "63", "--out", str(tmp_path / "run"))
    code, err = done.returncode, done.stderr.strip()
    assert code == 2
    assert "--batch-size 63 is the global batch and must divide among the 2 processes" in err
    assert len(err.splitlines()) == 1 and not any(tmp_path.iterdir())


# --- real torchrun launches (gloo on 127.0.0.1) -------------------------------------------------


def torchrun(args: str, out: Path, nproc: int = 2, **popen) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    return subprocess.Popen(
        [*command, "-m", "training", "train", *args.split(), "--out", str(out)],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **popen,
    )


def max_weight_difference(a: Path, b: Path, kind: str) -> float:
    wa, wb = load_file(a / f"{kind}.safetensors"), load_file(b / f"{kind}.safetensors")
    assert wa.keys() == wb.keys()
    return max(float((wa[k] - wb[k]).abs().max()) for k in wa)


@pytest.mark.slow
def test_torchrun_two_ranks_match_one_process(tmp_path):
    """--model both on 2 ranks: each model data-parallel over both ranks (see the README)."""
    args = f"{SMALL} --epochs 3 --model both --device cpu"
    launch = torchrun(args, tmp_path / "two")
    assert main([*f"train {args}".split(), "--out", str(tmp_path / "one")]) == 0
    stdout, stderr = launch.communicate(timeout=300)
    assert launch.returncode == 0, stderr[-2000:]
    assert stdout.count("saved to") == 1  # only rank 0 reports and writes
    assert "2 processes (DDP, gloo)" in stderr
    for kind in ("ae", "vae"):
        diff = max_weight_difference(tmp_path / "one", tmp_path / "two", kind)
        print(f"{kind}: max |w_2 ranks - w_1 process| = {diff:.3g}")
        assert diff <= 1e-5
        one, two = (json.loads((tmp_path / d / f"{kind}.json").read_text()) for d in ("one", "two"))
        assert (one["train"]["world_size"], two["train"]["world_size"]) == (1, 2)
        for a, b in zip(one["history"], two["history"]):  # all-reduced terms: the numbers one process logs
            for key in ("train_total", "test_total", "test_kl"):
                assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())
    load_set(tmp_path / "two")


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def rank_pid(launcher: int, rank: int) -> int | None:
    for child in children(launcher):
        try:
            environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ:
            return child
    return None


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the rank's process through /proc (Linux)")
def test_a_killed_rank_ends_the_launch_and_the_previous_checkpoint_loads(tiny_pair_dir, tmp_path):
    out = tmp_path / "pair"
    shutil.copytree(tiny_pair_dir, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    launch = torchrun(f"{SMALL} --epochs 5000 --model ae --device cpu", out)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(launch.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while not any("AE: device" in line for line in lines):  # rank 0 is training, so rank 1 is too
        assert launch.poll() is None and time.monotonic() < deadline, "".join(lines)[-2000:]
        time.sleep(0.2)
    time.sleep(1.0)  # well into the 5,000 epochs
    victim = rank_pid(launch.pid, 1)
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    launch.wait(timeout=120)
    reader.join(timeout=10)
    report = "".join(lines)
    assert launch.returncode != 0
    assert "rank      : 1 (local_rank: 1)" in report and "SIGKILL" in report, report[-3000:]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    load_set(out)


# --- CUDA (skipped here; CI has no GPU) -------------------------------------------------------------


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("precision", ["32", "bf16", "16"])
def test_cuda_training_writes_float32_weights_and_records_the_device(precision, tiny_config, tiny_moons, tmp_path):
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16")
    config = dataclasses.replace(
        tiny_config, train=dataclasses.replace(tiny_config.train, device="cuda", precision=precision, epochs=6)
    )
    train_and_save(config, tmp_path / "run", dataset=tiny_moons, progress_bar=False, iwae_k=2)
    for kind in ("ae", "vae"):
        sidecar = json.loads((tmp_path / "run" / f"{kind}.json").read_text())
        assert sidecar["train"]["device"] == "cuda:0" and sidecar["train"]["precision"] == precision
        history = sidecar["history"]
        assert history[-1]["train_total"] < history[0]["train_total"]
        assert {t.dtype for t in load_file(tmp_path / "run" / f"{kind}.safetensors").values()} == {torch.float32}
    load_set(tmp_path / "run")


@pytest.mark.gpu
@needs_cuda
def test_cuda_streamed_batches_match_the_device_copy_and_fp32_matches_cpu(tiny_config, tiny_moons):
    x = tiny_moons.train.x
    rows, bounds = torch.randperm(len(x)), [(0, 100), (100, len(x))]
    device = torch.device("cuda", 0)
    for (a, _), (b, _) in zip(
        OnDevice(x, device).batches(rows, bounds), Streamed(x, device).batches(rows, bounds), strict=True
    ):
        assert a.device == b.device == device and torch.equal(a, b)
    assert resolve_device("auto")[0] == device
    ae = dataclasses.replace(tiny_config, model=dataclasses.replace(tiny_config.model, kind="ae"))  # no noise
    cuda = dataclasses.replace(ae, train=dataclasses.replace(ae.train, device="cuda"))
    cpu_run, gpu_run = fit(ae, tiny_moons, progress_bar=False), fit(cuda, tiny_moons, progress_bar=False)
    assert gpu_run.history[-1]["train_total"] == pytest.approx(cpu_run.history[-1]["train_total"], rel=1e-2)


def test_train_page_shows_the_server_device_and_its_runs_use_it(tmp_path, monkeypatch):
    from training import jobs

    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    device = str(resolve_device("auto")[0])
    at = open_app("explorer/ui/pages/train.py", dataset="digits", pair="digits-2d")
    assert not at.exception
    assert any(f"this server's {device}" in c.value for c in at.caption)
    job = wait(jobs.start_job(tiny_run(epochs=1), tmp_path / "runs"))
    assert job.status == "finished", job.message
    assert json.loads((tmp_path / "runs" / job.run_id / "vae.json").read_text())["train"]["device"] == device


def test_scaling_estimate_reaches_80_percent_at_the_batch_it_names():
    from bench.distributed import LINKS, estimate, flops_per_sample

    for family in ("mlp", "conv"):
        flops, params = flops_per_sample(family)
        assert flops > 2 * params  # a step costs at least a multiply-add per weight per sample
        (node, _, node_us), (nodes, batch, nodes_us) = (estimate(flops, params, link) for link in LINKS.values())
        assert nodes < node and nodes_us > node_us  # the slower link costs efficiency
        link = list(LINKS.values())[1]
        assert estimate(flops, params, link, batch)[0] >= 0.8 > estimate(flops, params, link, batch - 1)[0]
