"""Where fit() runs: the device, the precision (autocast + grad scaler) and where the data lives.

Pure torch; no process groups here (distributed.py has those). Every choice is resolved once, up
front, with one clear error a user can act on.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

import torch

from .errors import TrainingError
from .models import Output, Posterior

DATA_SHARE = 0.5  # the training set goes on the device when it (and a shuffled copy) takes at most this much


def resolve_device(name: str, local_rank: int = 0, world_size: int = 1) -> tuple[torch.device, str]:
    """A TrainConfig.device name -> the device this process uses, and why (for the log).

    Under torchrun each rank takes cuda:LOCAL_RANK, so `cuda` and `auto` mean one GPU per process.
    """
    cuda = torch.cuda.is_available()
    if name == "auto":
        name, why = ("cuda", "auto: CUDA is available") if cuda else ("cpu", "auto: PyTorch sees no CUDA device")
    else:
        why = "asked for"
    if name == "cpu":
        return torch.device("cpu"), why
    if name == "mps":
        if not (torch.backends.mps.is_available() and torch.backends.mps.is_built()):
            raise TrainingError(
                "device 'mps' asked for, but this PyTorch has no Apple GPU (MPS); use --device cpu",
                key="err_dev_device_mps_asked",
            )
        if world_size > 1:
            raise TrainingError(
                "DistributedDataParallel does not run on mps; use --device cpu under torchrun",
                key="err_dev_distributeddataparallel_does_run",
            )
        return torch.device("mps"), why
    if not name.startswith("cuda"):
        raise TrainingError(
            f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps",
            key="err_dev_unknown_device_auto",
            name=repr(name),
        )
    if not cuda:
        raise TrainingError(
            f"device {name!r} asked for, but PyTorch sees no CUDA device; use --device cpu",
            key="err_dev_device_asked_pytorch",
            name=repr(name),
        )
    if ":" in name and world_size > 1:
        raise TrainingError(
            f"under torchrun use --device cuda (rank r takes cuda:LOCAL_RANK), not {name!r}",
            key="err_dev_under_torchrun_device",
            name=repr(name),
        )
    index = int(name.split(":")[1]) if ":" in name else local_rank
    if index >= torch.cuda.device_count():
        raise TrainingError(
            f"cuda:{index} asked for, but this machine has {torch.cuda.device_count()} CUDA device(s)",
            key="err_dev_cuda_asked_machine",
            index=index,
            count=torch.cuda.device_count(),
        )
    return torch.device("cuda", index), why


# --- precision ------------------------------------------------------------------------------------

DTYPES = {"32": None, "bf16": torch.bfloat16, "16": torch.float16}


@dataclass
class Amp:
    """Mixed precision for one device: an autocast context and a (possibly disabled) gradient scaler.

    The weights stay float32 (autocast casts per op), so the checkpoint is float32 whatever the precision.
    """

    name: str  # one of config.PRECISIONS
    device_type: str  # "cpu", "cuda" or "mps"
    dtype: torch.dtype | None  # None: plain float32
    scaler: torch.amp.GradScaler  # enabled for float16 only: its small range underflows gradients

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """backward + optimizer step; with the scaler on, a step whose gradients overflowed is skipped."""
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()


def resolve_precision(name: str, device: torch.device) -> Amp:
    if name not in DTYPES:
        raise TrainingError(
            f"precision must be one of {', '.join(DTYPES)}; got {name!r}",
            key="err_dev_precision",
            choices=", ".join(DTYPES),
            name=repr(name),
        )
    if name == "16" and device.type != "cuda":
        raise TrainingError(
            f"--precision 16 needs a CUDA device (this run is on {device}); use 32 or bf16",
            key="err_dev_precision_needs_cuda",
            device=device,
        )
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise TrainingError(
            f"{torch.cuda.get_device_name(device)} has no bfloat16; use --precision 16 or 32",
            key="err_dev_bfloat_precision",
            gpu=torch.cuda.get_device_name(device),
        )
    return Amp(name, device.type, DTYPES[name], torch.amp.GradScaler(device.type, enabled=name == "16"))


def float32(output: Output) -> Output:
    """The model's output in float32, so the loss (sums over 784 pixels, logs) is never summed in 16 bits.
    A no-op (no copies) at precision 32."""
    p = output.posterior
    std = None if p.std is None else p.std.float()
    log_q = None if output.log_q is None else output.log_q.float()
    return Output(output.logits.float(), output.z.float(), Posterior(p.mean.float(), std, p.q), log_q)


# --- where the training data lives ----------------------------------------------------------------


def data_fits(nbytes: int, device: torch.device) -> bool:
    """Can the split (and one shuffled copy of it) live on the device? The CPU holds it already."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return 2 * nbytes <= DATA_SHARE * free
    if device.type == "mps":
        return 2 * nbytes <= DATA_SHARE * torch.mps.recommended_max_memory()
    return True


class OnDevice:
    """The whole split as one device tensor; each epoch gathers this rank's rows in one go and slices."""

    where = "on the device"

    def __init__(self, x: torch.Tensor, device: torch.device):
        self.x = x.to(device)

    def batches(self, rows: torch.Tensor, bounds: list[tuple[int, int]]) -> Iterator[tuple[torch.Tensor, slice]]:
        mine = self.x[rows.to(self.x.device)]  # one gather per epoch
        for start, stop in bounds:
            yield mine[start:stop], slice(start, stop)


class Streamed:
    """The split stays in host memory; each step gathers its rows, pins them and copies asynchronously."""

    where = "streamed from pinned host memory"

    def __init__(self, x: torch.Tensor, device: torch.device):
        self.x, self.device = x, device
        self.pin = device.type == "cuda"

    def batches(self, rows: torch.Tensor, bounds: list[tuple[int, int]]) -> Iterator[tuple[torch.Tensor, slice]]:
        for start, stop in bounds:
            batch = self.x[rows[start:stop]]
            if self.pin:
                batch = batch.pin_memory()
            yield batch.to(self.device, non_blocking=self.pin), slice(start, stop)


def place_data(x: torch.Tensor, device: torch.device) -> OnDevice | Streamed:
    nbytes = x.element_size() * x.nelement()
    return OnDevice(x, device) if data_fits(nbytes, device) else Streamed(x, device)
