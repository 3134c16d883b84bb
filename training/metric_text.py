"""Metrics as text, for the CLI's summaries and the app's tables alike."""

from __future__ import annotations

from .kinds import LABELS
from .stats import LEVEL


def elbo_text(m: dict, digits: int = 2, one_draw: str = "(1 draw)") -> str:
    """The ELBO as "value ± s.e."; a sidecar from before the standard error held one draw per image
    (one_draw says so: the app passes it in the reader's language)."""
    if "elbo_se" in m:
        return f"{m['elbo']:.{digits}f} ± {m['elbo_se']:.{digits}f}"
    return f"{m['elbo']:.{digits}f} {one_draw}"


def nll_text(m: dict, digits: int = 2, detail: bool = True, exact: str = "exact") -> str:
    """-log p(x) and how it was measured: exact (2-D latents) or the IWAE-k bound (with its ESS);
    detail (the CLI's) adds on how many images."""
    if "exact_nll" in m:
        return f"{m['exact_nll']:.{digits}f} {exact}" + (f" ({m['exact_n_images']} images)" if detail else "")
    more = f", ESS {m['iwae_ess']:.0f}, {m['iwae_n_images']} images" if detail and "iwae_ess" in m else ""
    se = f" ± {m['iwae_se']:.{digits}f}" if "iwae_se" in m else ""  # sidecars from before the groups have none
    return f"{m['iwae_nll']:.{digits}f}{se} IWAE-{m['iwae_k']}{more}"


def metric_cells(m: dict, latent_dim: int, one_draw: str = "(1 draw)", exact: str = "exact") -> dict[str, str]:
    """A model's headline metrics as a table's cells, one decimal: BCE, ELBO, NLL and active units;
    '–' where the model has no such number (an AE has no likelihood)."""
    has_nll = "iwae_nll" in m or "exact_nll" in m
    return {
        "BCE": f"{m['recon_bce']:.1f}" if "recon_bce" in m else "–",
        "ELBO": elbo_text(m, 1, one_draw=one_draw) if "elbo" in m else "–",
        "NLL": nll_text(m, 1, detail=False, exact=exact) if has_nll else "–",
        "active": f"{m.get('active_units', '?')}/{m.get('latent_dim', latent_dim)}",
    }


def summary_line(kind: str, metrics: dict) -> str:
    """One line of a model's test metrics, as the CLI prints them after training or evaluating."""
    if "recon_bce" not in metrics:  # conditional models
        parts = [
            f"{LABELS[kind]:>10}",
            f"test loss {metrics['test_total']:.2f}",
            f"(recon {metrics['test_reconstruction']:.2f}",
            f"KL {metrics['test_kl']:.2f})",
        ]
        done = metrics.get("completion")
        if done:
            parts += [
                f"| fill-in MSE: regression {done['regression_error']:.4f}, CVAE best of {done['n_samples']} "
                f"{done['cvae_best_of_n_error']:.4f}, mean {done['cvae_mean_error']:.4f}"
            ]
        return "  ".join(parts)
    parts = [f"{LABELS[kind]:>3}", f"recon BCE {metrics['recon_bce']:.2f}", f"MSE {metrics['recon_mse']:.4f}"]
    if "elbo" in metrics:
        parts += [f"ELBO {elbo_text(metrics)}", f"NLL {nll_text(metrics)}", f"KL {metrics['kl']:.2f}"]
    if "bernoulli_floor" in metrics:
        parts.append(f"Bernoulli floor {metrics['bernoulli_floor']:.2f}")
    parts.append(f"active units {metrics['active_units']}/{metrics['latent_dim']}")
    return "  ".join(parts)


def conditional_table(metrics: dict) -> str:
    if "completion" in metrics:
        m = metrics["completion"]
        rows = [
            "| fill in the missing half | regression | CVAE |",
            "|---|---|---|",
            f"| MSE to the truth (missing half) | {m['regression_error']:.4f} | best of {m['n_samples']}: "
            f"{m['cvae_best_of_n_error']:.4f}, mean {m['cvae_mean_error']:.4f} |",
            f"| diversity (mean pairwise MSE of completions) | 0 | {m['cvae_diversity']:.4f} |",
            f"| sharpness (mean gradient; truth {m['sharpness_truth']:.4f}) | {m['sharpness_regression']:.4f} | "
            f"{m['sharpness_cvae']:.4f} |",
            f"| sharpness, CVAE minus regression ({LEVEL:.0%} t-interval over image halves) | | "
            f"{m['sharpness_difference']:+.4f} ({m['sharpness_difference_low']:+.4f} to "
            f"{m['sharpness_difference_high']:+.4f}) |",
            f"| MSE to the mean of the CVAE's samples | {m['regression_to_sample_mean']:.4f} | one sample to the mean "
            f"of the other {m['n_samples'] - 1}: {m['sample_to_others_mean']:.4f} |",
            f"| the CVAE samples' own variance (per pixel) | | {m['sample_variance']:.4f} |",
            f"| CVAE reconstruction of the visible half (MSE) | - | {m['cvae_visible_error']:.4f} |",
        ]
        return "\n".join(rows) + f"\n\n{m['n_images']} test images x 4 halves (top, bottom, left, right)."
    m = metrics["labels"]
    return (
        f"class-conditional samples: variance across z for a fixed label {m['within_class_variance']:.4f}, "
        f"across labels for a fixed z {m['across_class_variance']:.4f}; sharpness CVAE {m['sharpness_cvae']:.4f}, "
        f"regression {m['sharpness_regression']:.4f}"
    )


def measurement_text() -> str:
    """How the bundled sets' test metrics are measured, every number from the budget that measures them
    (metrics.FULL) and the sample count (runs.PRIOR_SAMPLES): METRICS.md and the README say it alike."""
    from .metrics import FULL
    from .runs import PRIOR_SAMPLES

    b = FULL
    return (
        f"ELBO, NLL and Bernoulli floor on the same {b.n_images} test images spread evenly through the split: the "
        f"ELBO from {b.elbo_samples} draws an image ± its Monte Carlo standard error; NLL: -log p(x) in nats per "
        f"image, exact by quadrature for 2-D latents (training/inference.py), else IWAE-{b.iwae_k} ± its standard "
        f"error ({b.iwae_groups} groups of {b.iwae_k:,} draws an image) with the effective sample size of its "
        f"weights. *Sample distance*: mean distance of {PRIOR_SAMPLES:,} decoded samples (VAE: N(0, I); AE: a "
        "Gaussian fitted to its codes) to the nearest true moon render, or for digits to the nearest training "
        "image (a proxy)."
    )
