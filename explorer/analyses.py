"""What each page computes, as pure functions returning small dataclasses (no streamlit).

Models are passed as {kind: model} and codes as {kind: Codes}, so the same function serves
a pair (ae, vae) and anything else keyed the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from explorer import figures, images, latents, verdict
from explorer.i18n import ENGLISH, Words
from training import moons, paths
from training.bank import Bank, manifold_distance, nearest_by_mse
from training.conditions import half_condition, half_mask, label_condition
from training.inference import Q_TOL
from training.kinds import LABELS
from training.losses import kl_to_standard_normal
from training.metrics import LABEL_SAMPLES, masked_mse, path_scores, sharpness
from training.sampling import fit_gaussian

PRIOR_SOURCES = ("N(0, I)", "Gaussian fitted to its codes")

# Every metric a page shows has help_<name> in the catalogues: what the number is and which way is better.


def metric_help(*names: str, t: Words = ENGLISH) -> str:
    """The help tooltip of a line showing several metrics: one paragraph per metric (catalogue: help_<name>)."""
    return "\n\n".join(f"**{t('metric_' + name)}**: {t('help_' + name, q_tol=Q_TOL)}" for name in names)


def distance_caption(bank: Bank, t: Words = ENGLISH) -> str:
    """What the lab's distance is measured against, in one sentence."""
    return t("lab_distance_proxy" if bank.is_proxy else "lab_distance_true", n=len(bank.images))


def nearest_distance(decoded: np.ndarray, train_images: np.ndarray) -> np.ndarray:
    """(N,) MSE of each decoded image to its nearest training image: near 0 looks like the data."""
    return nearest_by_mse(decoded, train_images, k=1)[1][:, 0]


def endpoint_noise(latent_dim: int, seed: int) -> np.ndarray:
    """One noise vector ε (D,) shared by both endpoints when a VAE samples z = μ + σ·ε."""
    return np.random.default_rng(int(seed)).standard_normal(latent_dim).astype(np.float32)


@dataclass
class Interpolation:
    path: np.ndarray  # (S, D) codes from A to B
    strip: np.ndarray  # (S, C, H, W) their decodes


def interpolate(
    models: dict, codes: dict[str, latents.Codes], a: int, b: int, steps: int, method: str = "linear", noise=None
) -> dict[str, Interpolation]:
    """Each model's path between its own codes for items a and b (noise: VAE endpoints sampled)."""
    out = {}
    for kind, model in models.items():
        za, zb = latents.endpoint_codes(codes[kind], int(a), int(b), noise)  # noise ignored where std is None
        path = paths.INTERPOLATIONS[method](za, zb, steps).astype(np.float32)
        out[kind] = Interpolation(path, latents.decode(model, path))
    return out


def decode_at(model, interpolation: Interpolation, method: str, t: float) -> np.ndarray:
    """The decode (C, H, W) at fraction t of a path, as the browser scrubber computes it."""
    path = interpolation.path
    return latents.decode(model, paths.POINT_AT[method](path[0], path[-1], t)[None])[0]


def export_strips(strips: dict[str, np.ndarray]) -> tuple[bytes, bytes]:
    """PNG of all strips, one row each; GIF with one frame per step, the models side by side.
    Both carry their labels: the model of each row (AE, VAE) and the t of each column or frame."""
    both = np.concatenate(list(strips.values()))
    steps = len(both) // len(strips)
    names = [LABELS[k] for k in strips]
    ts = np.linspace(0.0, 1.0, steps)
    png = images.upscale(images.grid(both, ncols=steps), images.display_scale(both.shape[-1], 64))
    png = images.annotate(png, names, [f"t={t:.2f}" for t in ts])
    frames = [
        images.annotate(
            images.upscale(
                images.grid(np.stack([s[i] for s in strips.values()]), ncols=len(strips)),
                images.display_scale(both.shape[-1], 96),
            ),
            [f"t={ts[i]:.2f}"],
            names,
            left=44,
        )
        for i in range(steps)
    ]
    return images.png_bytes(png), images.gif_bytes(frames)


@dataclass
class PriorSet:
    kind: str  # the model that decodes
    source: str  # one of PRIOR_SOURCES
    decoded: np.ndarray  # (N, C, H, W)


def prior_sets(models: dict, ae_train_codes: np.ndarray, n: int, seed: int) -> list[PriorSet]:
    """The three prior-sample sets: VAE from N(0, I); AE from a Gaussian fitted to its codes, and from N(0, I)."""
    d = ae_train_codes.shape[1]
    standard = latents.prior_codes(d, n, seed)
    fitted = latents.prior_codes(d, n, seed, fit_gaussian(ae_train_codes))
    sources = (
        ("vae", PRIOR_SOURCES[0], standard),
        ("ae", PRIOR_SOURCES[1], fitted),
        ("ae", PRIOR_SOURCES[0], standard),
    )
    return [PriorSet(kind, source, latents.decode(models[kind], z)) for kind, source, z in sources]


@dataclass
class EndpointStory:
    """The VAE's numbers for one image: the posterior, its KL to the prior, both reconstructions."""

    mean: np.ndarray  # (D,)
    std: np.ndarray  # (D,)
    kl: np.ndarray  # (D,) nats per dimension
    recon_mse: dict[str, float]  # kind -> MSE of the decode of the posterior mean

    def describe(self, index: int, t: Words = ENGLISH) -> str:
        ae, vae = self.recon_mse["ae"], self.recon_mse["vae"]
        code = latents.format_code
        return t(
            "cmp_endpoint_ae" if ae < vae else "cmp_endpoint",
            index=index,
            mean=code(self.mean),
            std=code(self.std),
            kl=code(self.kl),
            total=self.kl.sum(),
            ae=ae,
            vae=vae,
        )


@torch.no_grad()
def endpoint_story(models: dict, codes: dict[str, latents.Codes], x: torch.Tensor, index: int) -> EndpointStory:
    posterior = models["vae"].encode(x[None])
    kl = kl_to_standard_normal(posterior.mean, posterior.std)[0].numpy()
    recon = {
        kind: float(((latents.decode(model, codes[kind].mean[index][None]) - x[None].numpy()) ** 2).mean())
        for kind, model in models.items()
    }
    return EndpointStory(posterior.mean[0].numpy(), posterior.std[0].numpy(), kl, recon)


def traversal_grids(
    models: dict, codes: dict[str, latents.Codes], starts: dict[str, np.ndarray], dims: tuple[int, int], size: int
) -> dict[str, np.ndarray]:
    """Each model's size x size decodes over two dimensions through its start code: (size*size, C, H, W)."""
    out = {}
    for kind, model in models.items():
        rows, cols = (latents.traversal_values(codes[kind], d, size, model.is_variational) for d in dims)
        grid = latents.traversal_grid(starts[kind].astype(np.float32), dims, rows, cols)
        out[kind] = latents.decode(model, grid)
    return out


def scored_paths(interps: dict[str, Interpolation], bank: Bank) -> dict[str, dict]:
    """path_scores of each model's strip: distances per step, their mean and max, (moons) phases."""
    return {kind: path_scores(i.strip, bank) for kind, i in interps.items()}


def score_summary(
    distances: dict[str, np.ndarray], scores: dict[str, dict], proxy: bool, t: Words = ENGLISH
) -> tuple[str, str]:
    """(axis label, one-paragraph caption) for the per-step scores of the AE vs VAE page."""
    label = t("cmp_score_proxy" if proxy else "cmp_score_true")
    mid = len(distances["AE"]) // 2
    text = t(
        "cmp_score_text",
        label=label,
        ae=distances["AE"].mean(),
        vae=distances["VAE"].mean(),
        ae_mid=distances["AE"][mid],
        vae_mid=distances["VAE"][mid],
    )
    if proxy:
        return label, text + " " + t("cmp_score_proxy_note")
    phases = {k: s["phases"][mid] for k, s in scores.items()}
    return label, text + " " + t("cmp_score_phase", ae=phases["ae"], vae=phases["vae"])


def true_renders(phase_a: float, phase_b: float, steps: int, side: int) -> np.ndarray:
    """(S, 1, side, side) moons rendered at evenly spaced phases between the endpoints."""
    return moons.render(np.linspace(phase_a, phase_b, steps), side)[:, None]


def hole_panel(
    title: str,
    grid: latents.HoleGrid,
    distances: np.ndarray,
    codes: np.ndarray,
    path,
    a: int,
    b: int,
    path_name: str = "interpolation",
):
    """A hole-map panel: codes overlaid only when the plane is the whole (2-D) space; path_name names
    the path in the legend (its endpoints)."""
    two_d = codes.shape[1] == 2
    on_plane = latents.plane_coordinates(path, codes[a], codes[b])
    return figures.HolePanel(
        title,
        distances,
        grid.xs,
        grid.ys,
        codes=codes if two_d else None,
        path=on_plane,
        axis_titles=grid.axis_titles,
        path_name=path_name,
    )


def prior_validity(sets: list[PriorSet], bank: Bank) -> list[float]:
    """Mean manifold distance of each prior-sample set."""
    return [float(manifold_distance(s.decoded, bank)[0].mean()) for s in sets]


def lab_verdicts(
    scores: dict[str, dict],
    validity: dict[tuple[str, str], float],
    bank: Bank,
    labels: dict[str, str],
    t: Words = ENGLISH,
) -> list[str]:
    """The half-moon lab's conclusions, each sentence built from the numbers it shows."""
    standard, fitted = PRIOR_SOURCES
    lines = [
        verdict.path_verdict(
            scores["ae"]["mean_distance"],
            scores["vae"]["mean_distance"],
            bank.is_proxy,
            worst=(scores["ae"]["max_distance"], scores["vae"]["max_distance"]),
            t=t,
        ),
        verdict.prior_verdict(validity[("vae", standard)], validity[("ae", fitted)], validity[("ae", standard)], t=t),
    ]
    if not bank.is_proxy and all("passes_half_moon" in s for s in scores.values()):
        lines.insert(1, verdict.half_moon_verdict({labels[k]: s["passes_half_moon"] for k, s in scores.items()}, t=t))
    return lines


def line_panels(models: dict, codes: dict, train_codes: dict, bank: Bank, labels: dict[str, str], n: int = 41):
    """A 1-D decoder's whole line for each model: every code from end to end (VAE: the prior's range; AE: its
    codes' range + 10 %), decoded, with the recovered phase of each decode and whether it is a real moon."""
    from training.bank import real_moons

    panels = []
    for kind, label in labels.items():
        ends = latents.slider_ranges(codes[kind], kind == "vae")[0]
        line_codes, decoded = latents.decoder_line(models[kind], *ends, n=n)
        real, phases = (None, None) if bank.is_proxy else real_moons(decoded, bank)[:2]
        data_codes = train_codes[kind].mean[:2000, 0]
        panels.append(figures.LinePanel(label, line_codes, decoded, phases, real, data_codes))
    return panels


def snapshot_panels(
    snapshots: dict[str, tuple[int, np.ndarray]], labels: dict[str, str], t: Words = ENGLISH
) -> list[figures.MapPanel]:
    """Codes seen during training, one panel per model; PCA of them when they are not 2-D."""
    from explorer.projection import make_projection

    panels = []
    for kind, label in labels.items():
        if kind not in snapshots:
            continue
        epoch, codes = snapshots[kind]
        points = codes if codes.shape[1] == 2 else make_projection("pca", codes.shape[1]).fit(codes).embedding_
        panels.append(figures.MapPanel(t("train_snapshot", model=label, epoch=epoch), points))
    return panels


# --- conditional models ----------------------------------------------------------------------------

CLASS_SAMPLES = 32  # CVAE samples drawn for the chosen class


@torch.no_grad()
def class_samples(cvae, regression, label: int, seed: int, n: int = CLASS_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """n CVAE decodes of z ~ N(0, I) under one label (n, C, H, W); the regression's one image (C, H, W)."""
    k = cvae.config.n_classes
    z = torch.from_numpy(latents.prior_codes(cvae.latent_dim, n, seed))
    samples = cvae.decode(z, label_condition(torch.full((n,), label), k)).numpy()
    return samples, regression.decode(label_condition(torch.tensor([label]), k)).numpy()[0]


@torch.no_grad()
def under_every_class(cvae, code: np.ndarray, label: int) -> tuple[np.ndarray, np.ndarray]:
    """One z decoded under the chosen label (C, H, W) and under every label (K, C, H, W)."""
    k = cvae.config.n_classes
    z = torch.from_numpy(np.asarray(code, dtype=np.float32))[None]
    chosen = cvae.decode(z, label_condition(torch.tensor([label]), k)).numpy()[0]
    return chosen, cvae.decode(z.repeat(k, 1), label_condition(torch.arange(k), k)).numpy()


@dataclass
class Completion:
    """One test image with a half hidden, filled in by the regression and n CVAE samples."""

    given: np.ndarray  # (C, H, W) the visible half, the missing one grey
    regression: np.ndarray  # (C, H, W) visible half + the regression's missing half
    regression_mse: float  # on the missing half, against the truth
    regression_sharpness: float
    completions: np.ndarray  # (n, C, H, W) visible half + each sample's missing half, best first
    mse: np.ndarray  # (n,) best first
    sharpness: np.ndarray  # (n,) in the order drawn
    diversity: float  # mean pairwise MSE between samples on the missing half


@torch.no_grad()
def complete_half(cvae, regression, x: torch.Tensor, mask_kind: str, n: int, seed: int) -> Completion:
    """x (1, C, H, W): show mask_kind's half, let both models fill in the rest."""
    mask = half_mask(mask_kind, tuple(x.shape[1:]))[None]
    missing = 1 - mask
    c = half_condition(x, mask)
    z = torch.from_numpy(latents.prior_codes(cvae.latent_dim, n, seed))
    predictions = cvae.decode(z, c.repeat(n, 1))
    guess = regression.decode(c)
    mse = masked_mse(predictions, x, missing).numpy()
    order = np.argsort(mse)
    pairwise = [masked_mse(predictions[i], predictions[j], missing[0]) for i in range(n) for j in range(i + 1, n)]
    return Completion(
        given=(x * mask + 0.35 * missing)[0].numpy(),
        regression=(x * mask + guess * missing)[0].numpy(),  # the given half stays as given
        regression_mse=float(masked_mse(guess, x, missing)[0]),
        regression_sharpness=float(sharpness(guess * missing)[0]),
        completions=(x * mask + predictions * missing)[order].numpy(),
        mse=mse[order],
        sharpness=sharpness(predictions * missing).numpy(),
        diversity=float(np.mean([float(p) for p in pairwise])),
    )


def label_summary(m: dict, t: Words = ENGLISH) -> str:
    """The stored label metrics (training.metrics.label_metrics) in a sentence."""
    return t(
        "cond_label_summary",
        n=m.get("n_samples", LABEL_SAMPLES),
        classes=m["n_classes"],
        within=m["within_class_variance"],
        across=m["across_class_variance"],
    )


def completion_table(m: dict, t: Words = ENGLISH) -> list[dict]:
    """The stored completion metrics (training.metrics.completion_metrics) as table rows."""
    reg = t("cond_col_regression")
    return [
        {
            "": t("cond_row_mse"),
            reg: round(m["regression_error"], 4),
            "CVAE": t("cond_best_of", n=m["n_samples"], best=m["cvae_best_of_n_error"], mean=m["cvae_mean_error"]),
        },
        {"": t("cond_row_diversity"), reg: 0.0, "CVAE": f"{m['cvae_diversity']:.4f}"},
        {
            "": t("cond_row_sharpness", truth=m["sharpness_truth"]),
            reg: round(m["sharpness_regression"], 4),
            "CVAE": f"{m['sharpness_cvae']:.4f}",
        },
        {
            "": t("cond_row_sample_mean"),
            reg: round(m["regression_to_sample_mean"], 4),
            "CVAE": blur_cell(m, t),
        },
    ] + (
        [
            {
                "": t("cond_row_sharper"),
                reg: None,
                "CVAE": t(
                    "cond_interval",
                    value=m["sharpness_difference"],
                    low=m["sharpness_difference_low"],
                    high=m["sharpness_difference_high"],
                ),
            },
            {"": t("cond_row_variance"), reg: None, "CVAE": f"{m['sample_variance']:.4f}"},
        ]
        if "sharpness_difference" in m
        else []
    )


def blur_cell(m: dict, t: Words = ENGLISH) -> str:
    """One CVAE sample's distance from the mean of the others (leave-one-out); a sidecar from before
    measured it against a mean that included the sample (biased low), and says so."""
    if "sample_to_others_mean" in m:
        return t("cond_one_sample", value=m["sample_to_others_mean"], others=m["n_samples"] - 1)
    return t("cond_one_sample_old", value=m["sample_to_sample_mean"])
