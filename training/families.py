"""Posterior families (issue 28): each family's q and its best q* against the exact posterior, per image,
for one model (its own family) or one decoder (every family: the inference-only comparison), and the
split's means with intervals and paired differences. numpy out. `python -m training families` writes
them to lab/families/ (results.json, results.md) and the Inference page shows them live.

Here, not in explorer/, because the command needs it and training/ never imports explorer/.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from .inference import Quadrature, bounds, encoder_q, exact_log_px, fit_flow_q, optimise_q, spread_index
from .posteriors import Flow
from .stats import t_interval


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().astype(np.float64)


FAMILY_K = 50  # the IWAE-k shown per family: the bundled IWAE set's k
FAMILY_DRAWS = 1000  # draws per image for each ELBO and IWAE-k (1000 / 50 = 20 groups of k)
SPLIT_N = 30  # test images per family across the split: each needs its exact log p(x) and q* per model
# the quadrature's first fine grid per mode (exact_log_px's fine): 24 a side, doubled where the grid
# without every other point disagrees by more than TOL, agreed with 48 to 4e-4 nats (< TOL) on 40 test
# images of each bundled moons-sparse-2d and digits-2d family set, in 0.4-0.8x the time
FAMILY_FINE = 24


def exact_for(vae, x: torch.Tensor, q) -> Quadrature:
    """The families' exact log p(x) and posterior moments of the images x under vae (q: the encoder's)."""
    return exact_log_px(vae, x, q=q, fine=FAMILY_FINE)


@dataclass
class FamilyNumbers:
    """One model and one family of q over a batch of images (nats, (N,) each): the encoder's q and q*
    (the best q of that family for each image, optimised on the same decoder)."""

    log_px: np.ndarray  # exact (quadrature): no standard error
    elbo: np.ndarray  # the encoder's q
    elbo_se: np.ndarray  # each Monte Carlo number's standard error, as bounds() gives it
    iwae: np.ndarray  # IWAE-FAMILY_K under the encoder's q, over FAMILY_DRAWS / FAMILY_K groups
    iwae_se: np.ndarray
    elbo_star: np.ndarray  # q*'s, on fresh draws
    elbo_star_se: np.ndarray

    @property
    def kl_posterior(self) -> np.ndarray:
        return self.log_px - self.elbo

    # a gap's error is its Monte Carlo ELBOs' (log p(x) is exact; the two ELBOs use independent draws)
    @property
    def kl_posterior_se(self) -> np.ndarray:
        return self.elbo_se

    @property
    def approximation_se(self) -> np.ndarray:
        return self.elbo_star_se

    @property
    def amortisation_se(self) -> np.ndarray:
        return np.hypot(self.elbo_se, self.elbo_star_se)

    @property
    def approximation(self) -> np.ndarray:
        return self.log_px - self.elbo_star

    @property
    def amortisation(self) -> np.ndarray:
        return self.elbo_star - self.elbo


def _judge(vae, x: torch.Tensor, q, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """q's ELBO and its s.e. per image on fresh draws (q*'s search used its own: they would flatter it)."""
    judged = bounds(vae, x, q, n_samples=FAMILY_DRAWS, ks=(), seed=seed)
    return _np(judged.elbo), _np(judged.elbo_se)


def family_numbers(
    vae,
    x: torch.Tensor,
    family: str | None = None,
    seed: int = 0,
    *,
    log_px: np.ndarray | None = None,
    encoder=None,
    start=None,
) -> tuple[FamilyNumbers, object]:
    """log p(x), the encoder's ELBO and IWAE-k, and q* within `family` (None: the model's own) for the
    images x (N, C, H, W); also q* itself. log_px and encoder (the encoder's bounds with this seed) are
    reused when given; start: where q*'s search begins (default the encoder's q, its Gaussian base for a
    Gaussian family). A flow q* for a model without flow layers is a flow of its own per image
    (fit_flow_q, from start: pass the full-covariance q*)."""
    q = encoder_q(vae, x)
    if log_px is None:
        log_px = _np(exact_for(vae, x, q).log_px)
    if encoder is None:
        encoder = bounds(vae, x, q, n_samples=FAMILY_DRAWS, ks=(FAMILY_K,), seed=seed)
    if start is None:
        start = q if family in (None, "flow") or not isinstance(q, Flow) else q.base
    # the model's own family by name: optimise_q reads a full-covariance start as diag unless told
    family = family or getattr(getattr(vae, "config", None), "posterior", None)
    if family == "flow" and not isinstance(start, Flow):
        star = fit_flow_q(vae, x, start, seed=seed)
        # each image its own layers: judged one by one on fresh draws
        judged = [_judge(vae, x[i : i + 1], s, seed + 1) for i, s in enumerate(star)]
        elbo_star, elbo_star_se = (np.concatenate(v) for v in zip(*judged))
    else:
        star = optimise_q(vae, x, start, family=family)
        elbo_star, elbo_star_se = _judge(vae, x, star, seed + 1)
    numbers = FamilyNumbers(
        log_px=log_px,
        elbo=_np(encoder.elbo),
        elbo_se=_np(encoder.elbo_se),
        iwae=_np(encoder.iwae[FAMILY_K]),
        iwae_se=_np(encoder.iwae_se[FAMILY_K]),
        elbo_star=elbo_star,
        elbo_star_se=elbo_star_se,
    )
    return numbers, star


SAME_DECODER_FAMILIES = ("diag", "full", "flow")


def same_decoder(
    vae,
    x: torch.Tensor,
    own: tuple[FamilyNumbers, object] | None = None,
    families=SAME_DECODER_FAMILIES,
    *,
    exact: bool = True,
) -> dict[str, FamilyNumbers]:
    """The inference-only comparison: one decoder, q* within each family, so log p(x) stays put and
    only q changes. diag from the encoder's Gaussian, full from diag's q*, flow (a flow of its own per
    image, whatever the model's family) from full's q*: each starts where the smaller family ended.
    own: the model's numbers and q* in its own family (family_panel's), reused for a Gaussian family.
    exact False: log p(x) left NaN for a caller that has it from elsewhere (with_log_px; the Inference
    page computes it in the model's panel, on the other core)."""
    q = encoder_q(vae, x)
    if own is not None:
        log_px = own[0].log_px
    else:
        log_px = _np(exact_for(vae, x, q).log_px) if exact else np.full(len(x), np.nan)
    encoder = bounds(vae, x, q, n_samples=FAMILY_DRAWS, ks=(FAMILY_K,), seed=0)  # shared by every family
    shared = dict(log_px=log_px, encoder=encoder)
    out, stars = {}, {}
    gaussian = q.base if isinstance(q, Flow) else q
    for family in ("diag", "full"):
        if own is not None and family == vae.config.posterior:
            out[family], stars[family] = own
        else:
            start = stars.get("diag", gaussian) if family == "full" else gaussian
            out[family], stars[family] = family_numbers(vae, x, family, start=start, **shared)
    if "flow" in families:
        out["flow"] = family_numbers(vae, x, "flow", start=stars["full"], **shared)[0]
    return {f: out[f] for f in families}


def with_log_px(numbers: dict[str, FamilyNumbers], log_px: np.ndarray) -> dict[str, FamilyNumbers]:
    """same_decoder(exact=False)'s numbers with the decoder's exact log p(x) put in."""
    return {f: replace(n, log_px=log_px) for f, n in numbers.items()}


def interval(values: np.ndarray) -> tuple[float, float]:
    """Mean and half-width of its 95 % Student-t interval over images (nan for one image)."""
    mean, low, high = t_interval(np.asarray(values, dtype=np.float64))
    return mean, (high - low) / 2 if len(values) > 1 else float("nan")


def split_families(models: dict[str, object], x: torch.Tensor, n: int | None = None) -> dict[str, FamilyNumbers]:
    """Each retrained model's numbers on n test images spread through the split (the same images for all)."""
    index = spread_index(len(x), SPLIT_N if n is None else n)
    return {name: family_numbers(vae, x[index])[0] for name, vae in models.items()}


def compare_gaps(numbers: dict[str, FamilyNumbers], base: str = "diag") -> list[tuple[str, str, float, float]]:
    """(family, part, mean change, half-width) of each family's gap against the base's on the same images:
    part approximation or amortisation; change = base's gap - this family's (positive: it closes nats)."""
    out = []
    for name, r in numbers.items():
        if name == base:
            continue
        for part in ("approximation", "amortisation"):
            mean, half = interval(getattr(numbers[base], part) - getattr(r, part))
            out.append((name, part, mean, half))
    return out


# --- python -m training families: the split's numbers written down (lab/families/) -------------------

DEFAULT_PAIRS = ("moons-sparse-2d", "digits-2d")
FIELDS = tuple(f.name for f in fields(FamilyNumbers))  # its per-image arrays, as stored


ORDER = ("diag", "full", "flow")  # the sidecar schema's families


def siblings(set_id: str) -> dict:
    """variant -> SetInfo of set_id and its siblings (store.family_siblings: the same VAE with another
    posterior family or objective, read from the sidecars, bundled or a user's runs): this set first (its
    decoder is the same-decoder comparison's), then diag, full, flow, then IWAE-trained ones."""
    from .store import family_siblings

    found = family_siblings(set_id)
    names = list(found)[:1] + sorted(list(found)[1:], key=lambda n: ("-" in n, ORDER.index(n.partition("-")[0]), n))
    return {name: found[name] for name in names}


def measure_pair(set_id: str, n: int = SPLIT_N) -> dict:
    """One pair and its siblings (store.family_siblings) on n test images spread through the split: each
    retrained model's numbers, and this pair's decoder with q* in every family. Per-image values."""
    from .errors import LatentExplorerError
    from .store import dataset_for, load_set

    found = siblings(set_id)
    if not found:
        raise LatentExplorerError(
            f"{set_id!r} is not a pair with a VAE of this package", key="err_families_not_pair", set_id=repr(set_id)
        )
    models = {name: load_set(info.path)["vae"] for name, info in found.items()}
    own = next(iter(models.values()))
    x = dataset_for(own.config).test.x
    index = spread_index(len(x), n)
    retrained = {name: family_numbers(vae.model, x[index])[0] for name, vae in models.items()}
    same = same_decoder(own.model, x[index])

    def arrays(numbers: FamilyNumbers) -> dict[str, list[float]]:
        return {f: [round(float(v), 4) for v in getattr(numbers, f)] for f in FIELDS}

    return {
        "sets": {name: info.id for name, info in found.items()},
        "images": [int(i) for i in index],
        "retrained": {name: arrays(r) for name, r in retrained.items()},
        "same_decoder": {name: arrays(r) for name, r in same.items()},
    }


def numbers_of(stored: dict[str, list[float]]) -> FamilyNumbers:
    return FamilyNumbers(**{f: np.asarray(stored[f], dtype=np.float64) for f in FIELDS})


# the words of the written reports (results.md, README.md; README.zh-CN.md in Chinese, as the app's zh
# catalogue words them), by language; every number comes from results.json
WORDS = {
    "en": {
        "diag": "diagonal Gaussian",
        "full": "full-covariance Gaussian",
        "flow": "normalising flow",
        "iwae": "{family}, IWAE-{k} trained",
        "q": "q",
        "approximation": "approximation gap",
        "amortisation": "amortisation gap",
        "head": "**{set_id}**, {n} test images spread through the split (mean ± 95 % t-interval, nats):",
        "retrained": "Retrained with each q (each its own decoder):",
        "same": "Same decoder ({set_id}'s), q* in each family (inference only):",
        "sets": "Sets: ",
        "none": "no clear difference",
        "closes": "closes {mean:.2f} nats",
        "widens": "widens it by {mean:.2f} nats",
        "line": "- {family}, {part}: {verdict} (diag's minus this: {diff:+.2f} ± {half:.2f})",
    },
    "zh": {
        "diag": "对角高斯",
        "full": "全协方差高斯",
        "flow": "归一化流",
        "iwae": "{family}，IWAE-{k} 训练",
        "q": "q 的分布族",
        "approximation": "近似差距",
        "amortisation": "摊销差距",
        "head": "**{set_id}**，测试集中均匀选取的 {n} 张图像（均值 ± 95% t 区间，奈特）：",
        "retrained": "用各自的 q 重新训练（每个模型有自己的解码器）：",
        "same": "同一解码器（{set_id} 的），在每个分布族内求 q*（仅推断）：",
        "sets": "集合：",
        "none": "没有明显差别",
        "closes": "缩小了 {mean:.2f} 奈特",
        "widens": "增大了 {mean:.2f} 奈特",
        "line": "- {family}，{part}：{verdict}（对角高斯的差距减去它的：{diff:+.2f} ± {half:.2f}）",
    },
}


def label(name: str, lang: str = "en") -> str:
    family, _, objective = name.partition("-")
    words = WORDS[lang]
    if not objective:
        return words[family]
    return words["iwae"].format(family=words[family], k=objective.removeprefix("iwae"))


def _cell(values: np.ndarray) -> str:
    mean, half = interval(values)
    return f"{mean:.2f} ± {half:.2f}"


HEADERS = {
    "log_px": "log p(x)",
    "elbo": "ELBO",
    "iwae": f"IWAE-{FAMILY_K}",
    "kl_posterior": "KL(q ‖ p(z|x))",
}


def gap_table(numbers: dict[str, FamilyNumbers], parts: tuple[str, ...], lang: str = "en") -> list[str]:
    words = WORDS[lang]
    heads = [HEADERS.get(p) or words[p] for p in parts]
    lines = [f"| {words['q']} | " + " | ".join(heads) + " |", "|---" * (len(parts) + 1) + "|"]
    for name, r in numbers.items():
        lines.append(f"| {label(name, lang)} | " + " | ".join(_cell(getattr(r, p)) for p in parts) + " |")
    return lines


def difference_lines(
    numbers: dict[str, FamilyNumbers], parts=("approximation", "amortisation"), lang: str = "en"
) -> list[str]:
    """Each family against the diagonal Gaussian on the same images: the paired difference of each gap part
    with its 95 % t-interval, and what it supports ("no clear difference" where the interval holds 0)."""
    words = WORDS[lang]
    lines = []
    for name, part, mean, half in compare_gaps(numbers):
        if part not in parts:
            continue
        if not abs(mean) > half:
            verdict = words["none"]
        else:
            verdict = words["closes" if mean > 0 else "widens"].format(mean=abs(mean))
        line = words["line"].format(family=label(name, lang), part=words[part], verdict=verdict, diff=mean, half=half)
        lines.append(line)
    return lines


def summary_lines(results: dict, full: bool, lang: str = "en") -> list[str]:
    """The README block (full=False: the gap tables only) or results.md's body (full=True), in lang."""
    words = WORDS[lang]
    lines = []
    for set_id, pair in results["pairs"].items():
        retrained = {k: numbers_of(v) for k, v in pair["retrained"].items()}
        same = {k: numbers_of(v) for k, v in pair["same_decoder"].items()}
        lines += [words["head"].format(set_id=set_id, n=len(pair["images"])), "", words["retrained"], ""]
        parts = ("kl_posterior", "approximation", "amortisation") if full else ("approximation", "amortisation")
        lines += gap_table(retrained, (("log_px", "elbo", "iwae") if full else ()) + parts, lang)
        lines += ["", *difference_lines(retrained, lang=lang), ""]
        lines += [words["same"].format(set_id=set_id), ""]
        lines += gap_table(same, ("approximation",), lang)
        lines += ["", *difference_lines(same, ("approximation",), lang), ""]
        if full:
            lines += [words["sets"] + ", ".join(f"{label(k, lang)} `{v}`" for k, v in pair["sets"].items()), ""]
    return lines


def results_markdown(results: dict) -> str:
    """lab/families/results.md, every number from results.json."""
    head = [
        "# Posterior families: the split's gaps",
        "",
        f"Written by `{results['command']}` in {results['seconds']:.0f} s; every number below is in results.json.",
        "Approximation gap: log p(x) − ELBO(q*), q* the best q of the family for each image on that decoder; "
        "amortisation gap: ELBO(q*) − ELBO(q), q the encoder's. log p(x) by quadrature, each ELBO from "
        f"{FAMILY_DRAWS:,} fresh draws, IWAE-{FAMILY_K} from the same in {FAMILY_DRAWS // FAMILY_K} groups of "
        f"{FAMILY_K}; results.json gives every image's Monte Carlo numbers with their standard errors (elbo_se, "
        "iwae_se, elbo_star_se: the draws' or the groups' spread). Differences are paired per image.",
        "",
    ]
    return "\n".join(head + summary_lines(results, full=True)).rstrip() + "\n"


def run_families(pairs: tuple[str, ...], n: int, out: str) -> dict:
    """Measure every pair, then write out/results.json and out/results.md (atomically)."""
    import json
    import time
    from pathlib import Path

    from .checkpoint import atomic_write_bytes

    started = time.perf_counter()
    measured = {set_id: measure_pair(set_id, n) for set_id in pairs}
    command = "python -m training families" + ("" if tuple(pairs) == DEFAULT_PAIRS else f" --pairs {','.join(pairs)}")
    command += "" if n == SPLIT_N else f" --n {n}"
    results = {"command": command, "n": n, "seconds": time.perf_counter() - started, "pairs": measured}
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / "results.json", json.dumps(results, indent=1).encode())
    atomic_write_bytes(folder / "results.md", results_markdown(results).encode())
    return results
