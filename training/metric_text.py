"""Metrics as text, for the CLI's summaries and the app's tables alike."""

from __future__ import annotations

from .kinds import LABELS


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
