"""torchrun / DistributedDataParallel glue for fit(): ranks, shards, all-reduce, rank-0 writes.

Under `torchrun` every process runs the same fit(). They stay equivalent to one process with the
same seed and global batch because:
  - every rank draws the same seeded permutation each epoch and takes its own slice of each global
    batch (--batch-size stays the global batch);
  - the VAE's noise and the CVAE's half masks are drawn for the whole global batch on every rank
    and sliced, so each sample gets the draw it would get in one process;
  - each rank's loss is its rows' mean weighted by world * rows / global rows, so DDP's mean of
    the ranks' gradients is the gradient of the global batch's mean (also for a short last batch).
Loss terms and test metrics are all-reduced, so every rank logs the same numbers; only rank 0 writes.
"""

from __future__ import annotations

import atexit
import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .errors import TrainingError

TIMEOUT = datetime.timedelta(minutes=10)  # a rank waiting longer than this for the others gives up


@dataclass(frozen=True)
class World:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def world() -> World:
    """This process's place in the launch, from the variables torchrun sets (one process without them)."""
    try:
        w = World(*(int(os.environ.get(k, d)) for k, d in (("RANK", 0), ("WORLD_SIZE", 1), ("LOCAL_RANK", 0))))
    except ValueError:
        raise TrainingError(
            "RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers (torchrun sets them)", key="err_dist_rank_world_size"
        ) from None
    if not (w.world_size >= 1 and 0 <= w.rank < w.world_size and w.local_rank >= 0):
        raise TrainingError(
            f"bad torchrun environment: RANK={w.rank}, WORLD_SIZE={w.world_size}",
            key="err_dist_bad_torchrun_environment",
            rank=w.rank,
            world_size=w.world_size,
        )
    return w


def is_main() -> bool:
    """Rank 0 (or the only process): the one that writes checkpoints, history and progress."""
    return world().main


def check_batch(batch_size: int, w: World) -> None:
    if batch_size % w.world_size:
        raise TrainingError(
            f"--batch-size {batch_size} is the global batch and must divide among the {w.world_size} processes; "
            f"use a multiple of {w.world_size}",
            key="err_dist_batch_size_global",
            batch_size=batch_size,
            world_size=w.world_size,
        )


def backend_for(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def init(device: torch.device, w: World) -> None:
    """Join the launch's process group once per process (torchrun's env:// rendezvous)."""
    if not w.distributed or dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend_for(device), timeout=TIMEOUT)
    atexit.register(destroy)


def destroy() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: torch.nn.Module, device: torch.device, w: World) -> torch.nn.Module:
    """DDP around the model under torchrun (it averages the ranks' gradients in backward)."""
    if not w.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, "module", model)


def all_reduce_sum(t: torch.Tensor, w: World) -> torch.Tensor:
    """Sum over ranks, in place; the tensor itself in one process."""
    if w.distributed:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


# --- sharding -------------------------------------------------------------------------------------


def shard(n: int, w: World) -> slice:
    """This rank's rows of a global batch of n: equal shards; a short last batch splits as evenly as it
    can (the first n % world ranks take one row more; a rank may get none)."""
    base, extra = divmod(n, w.world_size)
    start = w.rank * base + min(w.rank, extra)
    return slice(start, start + base + (w.rank < extra))


def loss_weight(rows: int, n: int, w: World) -> float:
    """Scale of this rank's mean loss so DDP's average over ranks is the mean over the global batch:
    (1/W) * sum_r W * (rows_r / n) * mean_r = sum of all per-sample losses / n. Exactly 1 in one process."""
    return w.world_size * rows / n


@dataclass
class Plan:
    """One epoch for this rank: its rows of every global batch, in step order."""

    rows: torch.Tensor  # (sum of this rank's shard sizes,) indices into the split
    bounds: list[tuple[int, int]]  # step i's rows are rows[start:stop]
    sizes: list[int]  # step i's global batch size
    parts: list[slice]  # step i's shard within its global batch


def epoch_plan(order: torch.Tensor, batch_size: int, w: World) -> Plan:
    rows, bounds, sizes, parts = [], [], [], []
    offset = 0
    for start in range(0, len(order), batch_size):
        n = min(batch_size, len(order) - start)
        part = shard(n, w)
        rows.append(order[start + part.start : start + part.stop])
        bounds.append((offset, offset + part.stop - part.start))
        offset = bounds[-1][1]
        sizes.append(n)
        parts.append(part)
    return Plan(torch.cat(rows), bounds, sizes, parts)


def rank_error(exc: BaseException, w: World) -> TrainingError:
    """A collective that failed because another rank died: say so, naming this rank."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return TrainingError(
        f"rank {w.rank} of {w.world_size}: lost contact with another rank ({first[:160]}); "
        "torchrun's report names the rank that failed"
    )
