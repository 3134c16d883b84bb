"""The shared sidebar (dataset + pair) and what every page needs of the chosen pair."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from explorer import latents
from explorer.figures import Colouring
from explorer.projection import Projection
from explorer.ui import cache, urlstate
from explorer.ui.text import plain
from training.datasets import Dataset
from training.errors import LatentExplorerError
from training.kinds import PAIR_KINDS as KINDS
from training.metrics import elbo_text, nll_text
from training.store import ModelSet, find_sets

LABELS = {"ae": "AE", "vae": "VAE"}


def metric_help(m: dict) -> dict[str, str]:
    """Row -> help for the metrics table (which way is better): BCE and active from analyses.METRIC_HELP,
    the VAE's ELBO and NLL saying how this sidecar measured them."""
    from explorer.analyses import METRIC_HELP  # lazy: the table is drawn after the first map

    draws = f"{m['elbo_samples']} draws per image" if "elbo_se" in m else "one draw per image (an older checkpoint)"
    if "exact_nll" in m:
        how = f"exact, by quadrature over the 2-D latent, on {m['exact_n_images']} test images"
    elif "iwae_nll" in m:
        how = f"IWAE-{m['iwae_k']}, an upper bound from {m['iwae_k']} importance samples per image"
    else:
        how = "not measured"
    floor = (
        f" No Bernoulli model can go below {m['bernoulli_floor']:.1f} here (fractional pixels)."
        if "bernoulli_floor" in m
        else ""
    )
    return {
        "BCE": METRIC_HELP["bce"],
        "ELBO": f"evidence lower bound per test image in nats, ± its Monte Carlo standard error ({draws}): "
        "higher is better.",
        "NLL": f"negative log-likelihood -log p(x) per test image in nats ({how}): lower is better.{floor}",
        "active": METRIC_HELP["active"],
    }


def metrics_rows(pair: ModelSet, latent_dim: int) -> dict[str, dict[str, str]]:
    """Row (metric) -> {AE, VAE} -> text; '–' where a model has no such number (an AE has no likelihood)."""
    rows: dict[str, dict[str, str]] = {name: {} for name in ("BCE", "ELBO", "NLL", "active")}
    for kind in KINDS:
        m, label = pair[kind].metrics, LABELS[kind]
        rows["BCE"][label] = f"{m['recon_bce']:.1f}" if "recon_bce" in m else "–"
        rows["ELBO"][label] = elbo_text(m, 1) if "elbo" in m else "–"
        rows["NLL"][label] = nll_text(m, 1, detail=False) if "iwae_nll" in m or "exact_nll" in m else "–"
        rows["active"][label] = f"{m.get('active_units', '?')}/{m.get('latent_dim', latent_dim)}"
    return rows


@dataclass
class View:
    """The chosen pair with its data and test-split codes (all cached, read-only)."""

    pair_id: str
    path: str
    stamp: float
    pair: ModelSet
    dataset: Dataset
    codes: dict[str, latents.Codes]

    @property
    def latent_dim(self) -> int:
        return self.pair["vae"].config.model.latent_dim

    def model(self, kind: str):
        return self.pair[kind].model

    def colouring(self) -> Colouring:
        test = self.dataset.test
        if test.y is not None:
            return Colouring(test.y.numpy(), "label", "label", self.dataset.class_names)
        if "phase" in test.factors:
            return Colouring(test.factors["phase"], "factor", "phase")
        return Colouring(None, "none")

    def describe_item(self, index: int) -> str:
        test = self.dataset.test
        if test.y is not None:
            names = self.dataset.class_names
            label = int(test.y[index])
            return f"label {names[label] if names else label}"
        if "phase" in test.factors:
            return f"phase {test.factors['phase'][index]:.3f}"
        return f"item {index}"

    def default_item(self) -> int:
        """An informative first pick: a crescent (phase near 0.15) on moons, else item 0."""
        phases = self.dataset.test.factors.get("phase")
        if phases is None or len(phases) == 0:
            return 0
        return int(np.argmin(np.abs(np.asarray(phases) - 0.15)))

    def projection(self, kind: str) -> Projection:
        method, params = projection_choice()
        return cache.projection(self.path, self.stamp, kind, method, params)

    def train_bank(self) -> np.ndarray:
        return cache.flat_train_images(self.path, self.stamp)

    def train_codes(self, kind: str) -> latents.Codes:
        return cache.codes(self.path, self.stamp, kind, "train")


def projection_choice() -> tuple[str, tuple]:
    """(method, sorted params) applied on the latent map page (URL: proj, proj_<param>); PCA until another runs."""
    from explorer.projection import PROJECTIONS

    state = st.session_state
    method = state.get("proj", "pca")
    if method not in PROJECTIONS:
        method = "pca"
    params = {name: state.get(f"proj_{name}", p.default) for name, p in PROJECTIONS[method].params.items()}
    return method, tuple(sorted(params.items()))


def describe_projection(method: str, params: tuple) -> str:
    """ "t-SNE (perplexity 30)": the projection in use, for captions and titles."""
    from explorer.projection import PROJECTIONS

    shown = ", ".join(f"{PROJECTIONS[method].params[n].label} {v:g}" for n, v in params)
    return PROJECTIONS[method].label + (f" ({shown})" if shown else "")


def apply_projection(method: str, values: dict) -> None:
    """Make (method, values) the projection in use: into Session State, and so into the URL."""
    st.session_state["proj"] = method
    for name, value in values.items():
        st.session_state[f"proj_{name}"] = value


def describe_training(pair: ModelSet) -> str:
    c = pair["vae"].config
    arch = f"{c.model.family.upper()} {'-'.join(map(str, c.model.hidden))}"
    data = c.data.name + (f" ({c.data.regime})" if c.data.name == "moons" else "")
    beta = f", β={c.model.beta:g}" if c.model.beta != 1 else ""
    n_train = pair["vae"].data_stats.get("n_train", "?")
    return (
        f"{data}, {n_train} training images; {arch}, latent {c.model.latent_dim}{beta}; "
        f"{c.train.epochs} epochs, lr {c.train.lr:g}, seed {c.train.seed}"
    )


def sidebar():
    """Dataset and pair choosers; state lives in the URL. Returns the sidebar box that pair_metrics
    fills once the page is drawn (its table imports pandas: not before the first map)."""
    choices = find_sets("pair")
    with st.sidebar:
        if not choices:
            st.error("No model pairs found. Run `make defaults` to rebuild the bundled pairs in checkpoints/.")
            st.stop()
        datasets = sorted({info.dataset for info in choices.values()})
        default_dataset = "moons" if "moons" in datasets else datasets[0]
        urlstate.seed("dataset", default_dataset, options=datasets)
        dataset_name = st.selectbox("Dataset", datasets, key="dataset")
        options = [p for p, info in choices.items() if info.dataset == dataset_name]
        preferred = next((p for p in options if p.endswith("moons-sparse-2d")), options[0])
        urlstate.seed("pair", preferred, options=options)
        st.selectbox("Model pair", options, key="pair")
        view = current_view()
        st.caption(f"**{plain(view.pair_id)}**: {plain(describe_training(view.pair))}")  # the box cuts long names
        return st.container()


def pair_metrics(box) -> None:
    """The pair's key metrics into the sidebar box that sidebar() returned."""
    view = current_view()
    with box:
        # A markdown table, not st.dataframe: that imports pandas and loads the grid's JS while the
        # browser is still drawing a cold start's first map (0.5-1.5 s of both cores here).
        rows = metrics_rows(view.pair, view.latent_dim)
        table = "| | AE | VAE |\n|---|--:|--:|\n" + "".join(
            f"| {name} | {plain(row['AE'])} | {plain(row['VAE'])} |\n" for name, row in rows.items()
        )
        st.markdown(table)
        collapse = collapse_warning(view.pair["vae"].metrics, view.pair["vae"].config.model.beta)
        if collapse:
            st.warning(collapse)
        st.caption(
            "Test split, nats per image: BCE = summed reconstruction BCE, ELBO ± its standard error, "
            "NLL = -log p(x) (exact or an IWAE-k bound), active = latent units in use. "
            "`python -m training eval` recomputes them.",
            help="  \n".join(f"**{name}**: {text}" for name, text in metric_help(view.pair["vae"].metrics).items()),
        )


def collapse_warning(metrics: dict, beta: float) -> str | None:
    """A warning when the VAE uses few of its latent dimensions (posterior collapse)."""
    active, total = metrics.get("active_units"), metrics.get("latent_dim")
    if active is None or not total:
        return None
    advice = f"try a lower β (now {beta:g}), a KL warm-up (--kl-warmup), or a smaller latent size"
    if active == 0:
        return f"The VAE's posterior has collapsed: no latent dimension carries information. To fix it, {advice}."
    if total > 2 and active <= total // 2:
        return (
            f"The VAE uses only {active} of its {total} latent dimensions (the rest collapsed to the prior); {advice}."
        )
    return None


def current_view() -> View:
    """The pair chosen in the sidebar, loaded through the caches; errors stop the page with st.error."""
    pair_id = st.session_state.get("pair")
    choices = find_sets("pair")
    if pair_id not in choices:
        pair_id = next(iter(choices))
    path, stamp = str(choices[pair_id].path), choices[pair_id].stamp
    try:
        pair = cache.model_set(path, stamp)
        data = cache.dataset(path, stamp)
        codes = {kind: cache.codes(path, stamp, kind) for kind in KINDS}
    except (LatentExplorerError, OSError) as exc:
        st.error(f"Could not open the pair {plain(pair_id)}: {plain(exc)}")
        st.stop()
    return View(pair_id, path, stamp, pair, data, codes)
