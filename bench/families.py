"""Posterior families and the IWAE objective (issue 28): training speed of each against the diagonal
ELBO, side by side in one run, and the Inference page's per-pick analysis of every family."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {"diag": ("diag", "elbo"), "full": ("full", "elbo"), "flow": ("flow", "elbo"), "iwae50": ("diag", "iwae")}


def training_rates(quick: bool, batch: int = 128) -> dict[str, float]:
    """Training samples/s of each variant on the bundled moons architecture (28x28, 128-64, 2-D code):
    the training step of fit() (forward with its noise, loss_terms, Adam), the variants interleaved so
    load changes hit them alike; the median of rounds."""
    import torch

    from training.config import ModelConfig
    from training.fit import make_optimizer
    from training.losses import loss_terms
    from training.models import build_model

    torch.set_num_threads(1)
    side = 16 if quick else 28
    x = torch.rand(batch, 1, side, side, generator=torch.Generator().manual_seed(0))
    steps, rounds = (2, 2) if quick else (10, 5)
    setups = {}
    for name, (posterior, objective) in VARIANTS.items():
        torch.manual_seed(0)
        model = build_model(ModelConfig(latent_dim=2, in_shape=(1, side, side), posterior=posterior)).train()
        draws = (50,) if objective == "iwae" else ()
        setups[name] = (model, make_optimizer(model, 1e-3), draws)
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(rounds):
        for name, (model, optimizer, draws) in setups.items():
            started = time.perf_counter()
            for _ in range(steps):
                out = model(x, noise=torch.randn(batch, *draws, 2))
                optimizer.zero_grad(set_to_none=True)
                loss_terms(out, x, "bernoulli", 1.0).total.backward()
                optimizer.step()
            times[name].append(steps * batch / (time.perf_counter() - started))
    return {name: statistics.median(v) for name, v in times.items()}


def pick_seconds(quick: bool, pair: str = "moons-sparse-2d") -> dict[str, float] | None:
    """Median seconds of the page's analysis of one pick with every family set present (each sibling's
    panel and the same decoder's q* per family): as the page runs it, its requests on the worker pool
    (explorer/offload.py, MAX_LONG_REQUESTS workers at once, joined: family_requests), and all of it in
    this process on one core (pick_families), and one model's exact log p(x) and heat map (the page's own
    core), on the same picks, interleaved, after warm-up picks (the workers start and load the sets); and
    what bounds the pool: its longest request and the sum of its requests' seconds over the workers (the
    medians over picks). None without the siblings. Results go to a fresh folder: no pick is a cache hit."""
    import os
    import tempfile

    from explorer.inference import exact_only, family_requests, join_families, pick_families
    from explorer.offload import Runner
    from training.families import siblings
    from training.store import dataset_for, load_set

    members = tuple((name, str(info.path), info.stamp) for name, info in siblings(pair).items())
    if len(members) < len(VARIANTS):  # the bundled siblings: one per variant
        return None
    models = {name: load_set(path)["vae"].model for name, path, _ in members}
    x = dataset_for(load_set(members[0][1])["vae"].config).test.x
    picks = [250] if quick else [100, 250, 500, 750, 900]
    warm = [50] if quick else [50, 60, 70, 80]  # each worker meets each set (loads it, warms its kernels)
    results = tempfile.TemporaryDirectory(prefix="bench-families-")
    os.environ["LATENT_EXPLORER_RESULTS"] = results.name
    runner = Runner(run_inline=False)
    parts: list[tuple[float, str, float]] = []  # per pick: longest request's seconds, its name, sum of all

    def pool(index: int) -> dict:  # as the page asks (explorer/ui/waiting.py), without drawing
        requests = family_requests(members, index)
        tickets = [runner.submit(task, args, "bench") for task, args in requests]
        found = join_families(members, [ticket.finished.wait() and ticket.value() for ticket in tickets])
        by_path = {path: name for name, path, _ in members}
        labels = ["same decoder's q*s"] + [f"{by_path[args[0]]}'s panel" for _, args in requests[1:]]
        longest = max(zip((t.elapsed() for t in tickets), labels))
        parts.append((*longest, sum(t.elapsed() for t in tickets)))
        return found

    runs = {
        "pool": pool,
        "all": lambda i: pick_families(models, x[i : i + 1]),
        "exact": lambda i: exact_only(models[members[0][0]], x[i : i + 1]),
    }
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    try:
        for i in [*warm, *picks]:
            for name, run in runs.items():
                started = time.perf_counter()
                run(i)
                seconds[name].append(time.perf_counter() - started)
    finally:
        runner.shutdown()
        os.environ.pop("LATENT_EXPLORER_RESULTS")
        results.cleanup()
    measured = parts[len(warm) :]
    longest = statistics.median(p[0] for p in measured)
    return {name: statistics.median(v[len(warm) :]) for name, v in seconds.items()} | {
        "models": len(models),
        "workers": runner.k,
        "longest": longest,
        "longest_part": statistics.mode(p[1] for p in measured),
        "sum": statistics.median(p[2] for p in measured),
    }


def rows(quick: bool, row, results: dict) -> list[str]:
    rates = training_rates(quick)
    results.update({f"families_samples_per_s_{k}": v for k, v in rates.items()})
    out = [
        row(
            f"training samples/s, {name} against diag",
            f"{rates[name]:,.0f} vs {rates['diag']:,.0f} ({rates[name] / rates['diag']:.2f}x)",
            "—",
            "one training step (forward, loss, Adam), batch 128, interleaved rounds, median, 1 thread",
            None,
        )
        for name in ("full", "flow", "iwae50")
    ]
    picked = pick_seconds(quick)
    if picked is None:
        out.append(
            row("Inference page: every family for one pick", "not measured", "≤ 1 s", "bundled siblings absent", None)
        )
        return out
    results.update({f"families_pick_{k}_s": v for k, v in picked.items() if isinstance(v, float)})
    results["families_pick_s"] = picked["pool"]
    n, k = picked["models"], picked["workers"]
    floor = max(picked["longest"], picked["sum"] / k)
    out.append(
        row(
            f"Inference page: every family for one pick ({n} models + same-decoder q* per family), on the page's "
            f"worker pool ({k} workers)",
            f"{picked['pool']:.2f} s (in one process on one core: {picked['all']:.2f} s, "
            f"{picked['all'] / picked['pool']:.1f}x)",
            "≤ 1 s",
            "median over test picks after warm-ups, interleaved; results folder fresh (a pick seen before is a "
            f"cache hit, on disk for every server process); the requests' seconds summed: {picked['sum']:.2f} s, "
            f"the longest ({picked['longest_part']}): {picked['longest']:.2f} s",
            picked["pool"] <= 1.0,
            f"the pool cannot finish a pick sooner than its longest request ({picked['longest_part']}, "
            f"{picked['longest']:.2f} s) nor than its requests' {picked['sum']:.2f} s of work over {k} cores "
            f"({picked['sum'] / k:.2f} s): {floor:.2f} s at best on this machine. Each model's panel is its exact "
            f"log p(x) and map (one model's: {picked['exact']:.2f} s), 2,000 draws and its q* by Newton (a flow "
            "model's through its flow's layers: the longest panel); the same decoder's flow q* is a flow fitted "
            "per image by Adam",
        )
    )
    out.append(
        row(
            "… one model's exact log p(x) and posterior map (the page's own core)",
            f"{picked['exact']:.2f} s",
            "—",
            "the same picks, interleaved, one core",
            None,
        )
    )
    return out
